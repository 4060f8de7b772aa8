"""The population flags (positional SOURCE..., --sweep) shared by analyze, status and refine, in a
module free of pandas: building the `designspace` parser must stay fast for `sample`."""


def add_population_args(parser, sources_help: str = "result store (.db) or tidy table (.csv/.parquet/.jsonl "
                                                    "with the columns `designspace sample` writes plus error)"):
    """Positional SOURCE... and --sweep NAME (repeatable; `all` pools every sweep) on an argparse parser."""
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help=sources_help)
    parser.add_argument("--sweep", action="append", default=None, metavar="NAME",
                        help="sweep(s) to read (repeatable; `all` pools every sweep). Needed when a store "
                             "holds sweeps with different recipes or datasets")
    return parser
