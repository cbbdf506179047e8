"""The command line: the entry point, the click commands and what they share."""
