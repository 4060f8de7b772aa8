"""Gradient-path lengths of a built network (seed 000 §1.5): the backward view of a design.

Nodes are the weight layers (conv and linear modules, the classifier excluded); edges are the
backward edges of one autograd graph, so a stop-gradient (detach) cuts them by construction. For a
layer l, a path's length is the number of weight layers on a backward path from the output to l,
l included. Reported per layer: the shortest and longest such path; per network: the longest
shortest path (max_l min_len) and the longest path (max_l max_len).
"""
from __future__ import annotations

import json
from collections import defaultdict


def _weight_owner(node, owners):
    """The weight layer a grad_fn node applies, if any (conv: direct AccumulateGrad of its weight;
    linear: through the transpose of its weight)."""
    for child, _ in node.next_functions:
        if child is None:
            continue
        var = getattr(child, "variable", None)
        if var is not None and id(var) in owners:
            return owners[id(var)]
        if type(child).__name__.startswith(("TBackward", "PermuteBackward")):
            for grand, _ in child.next_functions:
                var = getattr(grand, "variable", None) if grand is not None else None
                if var is not None and id(var) in owners:
                    return owners[id(var)]
    return None


def gradient_paths(model, input_shape) -> dict:
    """{"layers": [{"layer", "min", "max"}] in module order, "longest_shortest_path", "longest_path"}."""
    import torch
    from torch import nn

    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    head = getattr(model, "head", None)
    classifier = getattr(head, "fc", None) if head is not None else None
    if classifier is None:
        classifier = next((m for _, m in reversed(layers) if isinstance(m, nn.Linear)), None)
    layers = [(name, m) for name, m in layers if m is not classifier]
    owners = {id(m.weight): name for name, m in layers}

    was_training = model.training
    model.eval()  # batch statistics of one image would fail; the graph is the same
    try:
        with torch.enable_grad():
            out = model(torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)

    # reachable DAG of grad_fn nodes, parents -> children
    children, indeg = {}, defaultdict(int)
    stack = [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in children:
            continue
        kids = [c for c, _ in node.next_functions if c is not None]
        children[node] = kids
        for c in kids:
            indeg[c] += 1
            stack.append(c)
    # longest/shortest number of weight layers strictly above each node, in topological order
    lo, hi = {out.grad_fn: 0}, {out.grad_fn: 0}
    ready = [out.grad_fn]
    best: dict[str, list[int]] = {}
    while ready:
        node = ready.pop()
        owner = _weight_owner(node, owners)
        below_lo, below_hi = lo[node], hi[node]
        if owner is not None:
            below_lo, below_hi = below_lo + 1, below_hi + 1
            b = best.setdefault(owner, [below_lo, below_hi])
            b[0], b[1] = min(b[0], below_lo), max(b[1], below_hi)
        for c in children[node]:
            lo[c] = min(lo.get(c, below_lo), below_lo)
            hi[c] = max(hi.get(c, below_hi), below_hi)
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    rows = [{"layer": name, "min": best[name][0], "max": best[name][1]} for name, _ in layers if name in best]
    return {
        "layers": rows,
        "unreached": [name for name, _ in layers if name not in best],
        "longest_shortest_path": max((r["min"] for r in rows), default=0),
        "longest_path": max((r["max"] for r in rows), default=0),
    }


MAX_GRAPH_PARAMS = 100_000_000  # the metric builds the model and runs one forward/backward graph
MAX_GRAPH_LAYERS = 20_000


def spec_gradient_paths(spec, regime) -> dict:
    from ..complexity import complexity
    from ..errors import UsageError
    from ..models import build
    from ..regimes import get_regime

    rg = get_regime(regime)
    params = complexity(spec, rg)["params"]
    blocks = sum(st.depth for st in spec.stages)
    if params > MAX_GRAPH_PARAMS or blocks * 4 > MAX_GRAPH_LAYERS:
        raise UsageError(f"--gradient-paths builds the model: {params:,} parameters and {blocks:,} blocks are past "
                         f"its limits ({MAX_GRAPH_PARAMS:,} parameters, {MAX_GRAPH_LAYERS // 4:,} blocks)")
    size = min(rg.im_size, 64)  # the graph does not depend on the image size
    return gradient_paths(build(spec, rg), (rg.channels, size, size))


def print_gradient_paths(spec, regime, as_json: bool = False) -> int:
    """`designspace describe --gradient-paths`: per-layer table (or JSON) and the network's summary."""
    res = spec_gradient_paths(spec, regime)
    res = {"id": spec.id, "space": spec.space, **res}
    if as_json:
        print(json.dumps(res))
        return 0
    width = max((len(r["layer"]) for r in res["layers"]), default=5)
    lines = [f"{spec.space or 'model'} {spec.id}: gradient path lengths (weight layers, classifier excluded)",
             f"{'layer':<{width}} {'min':>5} {'max':>5}"]
    lines += [f"{r['layer']:<{width}} {r['min']:>5} {r['max']:>5}" for r in res["layers"]]
    if res["unreached"]:
        lines.append(f"no gradient reaches: {', '.join(res['unreached'])}")
    lines.append(f"longest shortest path: {res['longest_shortest_path']}  longest path: {res['longest_path']}")
    print("\n".join(lines))
    return 0
