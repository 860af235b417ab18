"""Apache Kafka for tests and development: fetched from Maven Central (``distribution``), run as a KRaft
cluster of one or three brokers on loopback, plain or secured with deploy/kafka's own scripts (``cluster``).
``python -m tools.kafka`` is the command line."""
