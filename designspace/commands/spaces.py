"""designspace spaces: list every space and its free parameters."""


def register(sub):
    p = sub.add_parser("spaces", help="list design spaces and their free parameters")
    p.set_defaults(func=run)


def run(args):
    from ..spaces import get_space, modifier_names, space_names

    for name in space_names():
        space = get_space(name)
        print(f"{name}: {space.description}")
        for param, desc in space.free_params:
            print(f"    {param:<10} {desc}")
    mods = modifier_names()
    if mods:
        print("modifiers (append as SPACE+MODIFIER, e.g. AnyNetXE+" + mods[0] + "):")
        for mod in mods:
            print(f"    +{mod}")
