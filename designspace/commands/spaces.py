"""designspace spaces: list the design spaces (one line each) and the modifiers; --show prints one
space's full definition as YAML, ready to copy, edit and pass back as --space FILE.yaml."""


DESCRIPTION = (
    "List every design space (one line each: its name and what it is) and the modifiers that add a seed "
    "family's options (+csp, +prn, ...). --show prints one space's full definition as YAML, ready to "
    "copy, edit and pass back as --space FILE.yaml; --params adds each space's free parameters to the "
    "list.")


def register(sub):
    p = sub.add_parser("spaces", help="list design spaces and modifiers; --show NAME prints a definition",
                       description=DESCRIPTION)
    p.add_argument("--show", metavar="SPACE",
                   help="print SPACE's resolved definition as YAML (a name, file or inline form such as RegNetX[wm=2])")
    p.add_argument("--params", action="store_true", help="also list each space's free parameters")
    p.set_defaults(func=run)


def run(args):
    from ..spaces import get_space, modifier_descriptions, space_names

    if args.show:
        print(get_space(args.show).to_yaml(), end="")
        return 0
    names = space_names()
    width = max(map(len, names)) + 1
    for name in names:
        space = get_space(name)
        print(f"{name + ':':<{width}} {space.description}")
        if args.params:
            for param, desc in space.free_params:
                print(f"    {param:<12} {desc}")
    mods = modifier_descriptions()
    if mods:
        print("modifiers (append as SPACE+MODIFIER, e.g. AnyNetXE+" + next(iter(mods)) + "):")
        mwidth = max(map(len, mods)) + 2
        for mod, desc in mods.items():
            print(f"  {'+' + mod:<{mwidth}} {desc}")
    print("refine inline: SPACE[k=v,...] fixes or ties parameters, SPACE[expr,...] adds constraints, "
          "e.g. RegNetX[wm=2], AnyNetXE[b=1,g>=8]+csp; or pass a space file (see docs/spaces.md)")
    return 0
