#!/usr/bin/env python3
"""derive_prefixes.py - the resource-ID prefixes in rules/aws.rules, derived
from AWS's own machine-readable definitions and documentation examples.

    python3 derive_prefixes.py ROOT

ROOT holds awscli/examples/ and botocore/data/ (Debian bookworm's awscli
2.9.19-1 and python3-botocore 1.29.27+repack-1, unpacked with `apt-get
download` and `dpkg -x`; see build.py). Every "<prefix>-<8 or 17 hex>"
value that stands under a key ending in Id/Ids or after an --*-id(s) flag,
in the AWS CLI example pages, the botocore service examples and the
service models' documentation, is counted; the output lists each prefix
with its count in ID context, its count overall and the services that use
it. Prefixes seen at least twice in ID context went into [ec2-other] /
[ec2-task] / [vpc-endpoint]; ordinary words (device, link, policy...) only
with 17 hex digits.
"""
import collections
import glob
import re
import sys

TOKEN = re.compile(r'(?<![A-Za-z0-9_.-])([a-z][a-z0-9]{0,15}(?:-[a-z][a-z0-9]{0,15}){0,3})-([0-9a-f]{17}|[0-9a-f]{8})(?![A-Za-z0-9_-])')
ID_CONTEXT = re.compile(r'(?i)(?:id"?\s*[:=]\s*\[?\s*"?|ids?\s+|-ids?[ =]\s*"?|ids"?\s*:\s*\[\s*"?)$')


def main():
    root = sys.argv[1]
    files = (glob.glob(root + '/awscli/examples/**/*.rst', recursive=True) +
             glob.glob(root + '/botocore/data/*/*/examples-1.json') +
             glob.glob(root + '/botocore/data/*/*/service-2.json'))
    seen = collections.Counter()
    in_ctx = collections.Counter()
    services = collections.defaultdict(set)
    for f in files:
        text = open(f, encoding='utf-8', errors='replace').read()
        svc = f.split('/')[-2] if f.endswith('.rst') else f.split('/')[-3]
        for m in TOKEN.finditer(text):
            if not re.search(r'\d', m.group(2)):
                continue
            p = m.group(1)
            seen[p] += 1
            if ID_CONTEXT.search(text[max(0, m.start() - 40):m.start()]):
                in_ctx[p] += 1
                services[p].add(svc)
    for p, n in sorted(in_ctx.items(), key=lambda x: -x[1]):
        print(n, seen[p], p, ','.join(sorted(services[p])))


if __name__ == '__main__':
    main()
