"""designspace deploy: fuse a trained re-parameterized model (or condense a CondenseNetV2) into its
inference form, verify it and save it.

MODEL_CHECKPOINT is ``torch.save({"spec": spec.to_dict(), "regime": "cifar", "state_dict": sd})`` with
sd the state_dict of ``designspace.models.build(spec, regime)``. The output has the same layout plus
"deployed" ("rep-fused" | "condensed") and "max_abs_diff"; Python: designspace.deploy.deploy_checkpoint.
"""


DESCRIPTION = (
    "Convert a trained checkpoint into its inference form: re-parameterized blocks (RepVGG, DBB, DyRep) "
    "fused into plain convolutions, a CondenseNetV2 condensed; the result is checked against the trained "
    "model on random inputs and saved. A checkpoint is what `designspace train --save` and a sweep with "
    "`checkpoints: true` write: torch.save of {\"spec\": spec.to_dict(), \"regime\": NAME, "
    "\"state_dict\": the weights of designspace.models.build(spec, regime)}, read with weights_only=True."
    " The output has the same layout plus \"deployed\" and \"max_abs_diff\".")


def register(sub):
    p = sub.add_parser("deploy", help="fuse a trained re-param / CondenseNetV2 checkpoint into its deploy form",
                       description=DESCRIPTION)
    p.add_argument("checkpoint", metavar="MODEL_CHECKPOINT",
                   help="the trained model's checkpoint (the format is described above)")
    p.add_argument("--out", default=None, help="output file (default: NAME.deploy.EXT next to the input)")
    p.add_argument("--atol", type=float, default=1e-4,
                   help="verification tolerance on eval outputs, scaled by their magnitude (default 1e-4)")
    p.set_defaults(func=run)


def run(args):
    from ..deploy import deploy_checkpoint
    from ..errors import UsageError

    if not args.atol > 0:
        raise UsageError(f"--atol must be positive, got {args.atol:g}")
    info = deploy_checkpoint(args.checkpoint, args.out, atol=args.atol)
    print(f"{info['form']}: {args.checkpoint} -> {info['out']}  (spec {info['spec_id']}, "
          f"{info['params']:,} params, max |diff| {info['max_abs_diff']:.2e})")
    return 0
