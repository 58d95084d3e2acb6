"""CLI subcommands, one module per concern; each defines register(subparsers)."""
