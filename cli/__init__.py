"""The operator CLI (click only): parse arguments, load the config, call into :mod:`node`."""
