"""``python -m services.cli``: the ``crx`` command."""

from services.cli.main import main

main()
