"""The ``ecris-xml`` adapter: ECRIS-style XML messages between central authorities (see README.md here).

``parser.EcrisXmlAdapter`` is the entry point. ``adapters.kit.xmlsafe`` parses the untrusted XML; ``tree`` walks
it under the format's closed content models; ``header`` reads the message type and header; ``person`` and
``convictions`` build the canonical sections; ``values`` parses value syntaxes; ``refcodes`` holds the ECRIS
reference codes (countries, categories, enumerations) and loads their tables.
"""
