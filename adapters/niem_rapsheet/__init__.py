"""The ``niem-rapsheet`` adapter: US criminal history in the NIEM 2.0 / Nlets Rap Sheet 4.1 model.

See README.md in this folder for the format. ``parser.NiemRapSheetAdapter`` is the entry point;
``names`` holds the namespaces and the substitution table, ``tree`` the namespace-tolerant element reader,
``values`` the value syntaxes, ``envelope`` finds rap sheets inside wrappers, ``countries`` maps
citizenship codes, ``person`` builds the subject, ``charges``/``sentences``/``cycles`` build convictions and
other charges, ``header`` the purpose, message type and version.
"""
