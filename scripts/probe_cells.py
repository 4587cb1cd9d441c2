#!/usr/bin/env python3
# Diagnostic (docs/small-model.md, "Where it fails"): linear probes on the small model's per-cell vision tokens.
# For the first N scenes captioned in WORLD/stage2.jsonl (a world from `vl3 synth`), `vl3 dump` writes each
# scene's tokens; a softmax classifier is fitted on 70 % of the shapes' cell tokens and scored on the other 30 %,
# for the shape (3 classes), the colour (8) and the cell (9). Prints train/test accuracy per tensor.
# Needs numpy (Debian: python3-numpy); not part of the build or the tests.
#   build/vl3 synth --out /tmp/w2 --seed 2 --scale 1
#   python3 scripts/probe_cells.py models/small /tmp/w2 200 merged,projected
import json, sys, os, subprocess, re
import numpy as np
import struct, array

def load_safetensors(path):  # name -> (shape, flat array) for F32/I64/I32/U8/F64 tensors
    with open(path,'rb') as f: data=f.read()
    n=struct.unpack('<Q',data[:8])[0]; hdr=json.loads(data[8:8+n]); base=8+n; out={}
    for k,v in hdr.items():
        if k=='__metadata__': continue
        a,b=v['data_offsets']; dt=v['dtype']
        code={'F32':'f','I64':'q','I32':'i','U8':'B','F64':'d'}.get(dt)
        if code is None: continue
        arr=array.array(code); arr.frombytes(data[base+a:base+b]); out[k]=(v['shape'],arr)
    return out

model, world = sys.argv[1], sys.argv[2]; N = int(sys.argv[3]); names = sys.argv[4].split(',')
VL3 = os.environ.get('VL3', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'vl3'))
cells = ["top left","top middle","top right","middle left","center","middle right","bottom left","bottom middle","bottom right"]
colours = ["red","green","blue","yellow","orange","purple","black","white"]
recs = []
for line in open(os.path.join(world, 'stage2.jsonl')):
    r = json.loads(line); conv = r['conversations']; ans = conv[-1]['value']
    if ans.startswith('There ') and ' shape' in ans and 'image' in r: recs.append((r['image'], ans))
recs = recs[:N]
cache = os.path.join(os.environ.get('PROBE_CACHE', '/tmp/vl3-probe-cache'), os.path.abspath(model).strip('/').replace('/', '_'))
os.makedirs(cache, exist_ok=True)  # dumps are kept: a second run with other tensors reuses them
X = {n: [] for n in names}; Ys, Yc, Yp = [], [], []
for img, ans in recs:
    out = os.path.join(cache, os.path.basename(img) + '.safetensors')
    if not os.path.exists(out):
        subprocess.run([VL3, 'dump', '-m', model, '--image', os.path.join(world, 'media', img), '-p', 'Describe the image.',
                        '--out', out, '--threads', '1'], check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    t = load_safetensors(out)
    labels = {}
    for m in re.finditer(r'An? (\w+) (circle|square|triangle) is in the ([a-z ]+?)\.', ans):
        labels[cells.index(m.group(3))] = (m.group(2), m.group(1))
    for n in names:
        shape, arr = t[n]; d = shape[-1]; a = np.array(arr, dtype=np.float32).reshape(-1, d)
        assert a.shape[0] == 9, (n, shape)
        for c in labels: X[n].append(a[c])
    for c, (s, col) in labels.items():
        Ys.append(['circle','square','triangle'].index(s)); Yc.append(colours.index(col)); Yp.append(c)
def probe(X, Y, k):
    X = np.array(X); Y = np.array(Y); n = len(Y); rng = np.random.default_rng(0); idx = rng.permutation(n); cut = int(n*0.7)
    tr, te = idx[:cut], idx[cut:]; mu = X[tr].mean(0); sd = X[tr].std(0) + 1e-6; Z = (X - mu) / sd
    W = np.zeros((Z.shape[1], k)); b = np.zeros(k); T = np.eye(k)[Y]
    for ep in range(2000):
        z = Z[tr] @ W + b; z -= z.max(1, keepdims=True); p = np.exp(z); p /= p.sum(1, keepdims=True)
        g = p - T[tr]; W -= 0.1 * (Z[tr].T @ g / len(tr) + 1e-2 * W); b -= 0.1 * g.mean(0)
    acc = lambda ids: float(((Z[ids] @ W + b).argmax(1) == Y[ids]).mean())
    return acc(tr), acc(te)
print(model, 'cells', len(Ys))
for n in names:
    print('  %-10s shape %.2f/%.2f  colour %.2f/%.2f  cell %.2f/%.2f' % ((n,) + probe(X[n], Ys, 3) + probe(X[n], Yc, 8) + probe(X[n], Yp, 9)))
