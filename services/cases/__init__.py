"""Cases: every REQUEST opens one case per requested state, due in that state's working days.

This package holds the pure parts the case service is built on: ``calendar`` (one state's working days and
time zone, and the deadline arithmetic on them) and ``deadlines`` (the answer periods, urgent periods and
reminders the agreements file sets per purpose, after Council Framework Decision 2009/315/JHA, Art. 8). They
read no clock and keep no state beyond caches: the same inputs always give the same instants.
"""
