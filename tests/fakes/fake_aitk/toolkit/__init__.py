"""Marks this folder as an ai-toolkit checkout for nbwizard's checks (``run.py`` + ``toolkit/``)."""
