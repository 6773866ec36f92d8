#!/usr/bin/env python3
"""build.py - assembles the third-party corpus (run once by hand; its output
is committed, so tests never read the machine's files).

    python3 build.py AWSCLI_ROOT

AWSCLI_ROOT holds awscli/examples/ and botocore/data/ as shipped by Debian's
awscli and python3-botocore packages (bookworm: awscli 2.9.19-1, python3-botocore
1.29.27+repack-1), for example after `apt-get download awscli python3-botocore`
and `dpkg -x` of both into one directory: ROOT=<dir>/usr/lib/python3/dist-packages.

Writes, next to this script:
  aws.txt.gz     AWS documentation examples (AWS CLI example pages, botocore
                 service examples) and fixtures.txt, one document each
  nonaws.txt.gz  real non-AWS text from Debian packages on this machine:
                 C headers, Python standard library, changelogs, man pages
Then run label.py to regenerate labels.tsv.
"""
import glob
import gzip
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import label  # noqa: E402

PER_SERVICE = 5
NONAWS_BYTES = 4_300_000
AWSISH = re.compile(r'amazonaws|arn:aws|AKIA|ASIA|aws_|\baws\b|s3://', re.I)


def doc(out, n, svc, src, text):
    out.append(f'\x1eDOC {n} {svc} {src}\n{text}')


def aws_docs(root):
    out = []
    n = 0
    ex = os.path.join(root, 'awscli', 'examples')
    for svc in sorted(os.listdir(ex)):
        d = os.path.join(ex, svc)
        if not os.path.isdir(d):
            continue
        taken = 0
        for f in sorted(glob.glob(d + '/**/*.rst', recursive=True)):
            t = open(f, encoding='utf-8', errors='replace').read()
            if not label.label(t):
                continue
            doc(out, n, svc, 'awscli/examples/' + os.path.relpath(f, ex), t)
            n += 1
            taken += 1
            if taken >= PER_SERVICE:
                break
    for f in sorted(glob.glob(os.path.join(root, 'botocore', 'data', '*', '*', 'examples-1.json'))):
        t = open(f, encoding='utf-8', errors='replace').read()
        if len(label.label(t)) < 3:
            continue
        svc = f.split(os.sep)[-3]
        doc(out, n, svc, 'botocore/data/' + '/'.join(f.split(os.sep)[-3:]), t)
        n += 1
    fx = open(os.path.join(HERE, 'fixtures.txt'), encoding='utf-8').read()
    for part in fx.split('\n%%\n'):
        head, _, body = part.partition('\n')
        if head.startswith('#'):
            continue
        svc, src = head.split(' ', 1)
        doc(out, n, svc, src, body)
        n += 1
    return out


def nonaws_docs():
    out = []
    n = 0
    total = 0
    groups = [
        ('c-header', sorted(glob.glob('/usr/include/**/*.h', recursive=True)), 1_300_000),
        ('python', sorted(glob.glob('/usr/lib/python3.11/*.py')), 1_400_000),
        ('changelog', sorted(glob.glob('/usr/share/doc/*/changelog.Debian.gz')), 1_000_000),
        ('man', sorted(glob.glob('/usr/share/man/man1/*.1.gz')), 600_000),
    ]
    for kind, files, budget in groups:
        used = 0
        for f in files:
            try:
                raw = gzip.open(f).read() if f.endswith('.gz') else open(f, 'rb').read()
            except OSError:
                continue
            t = raw.decode('utf-8', errors='replace')
            if AWSISH.search(t) or len(t) > 120_000 or len(t) < 2000:
                continue
            doc(out, n, kind, f, t)
            n += 1
            used += len(t)
            total += len(t)
            if used >= budget:
                break
    return out


def write(path, docs):
    with gzip.open(path, 'wt', encoding='utf-8', newline='') as f:
        f.write(''.join(docs))


def main():
    root = sys.argv[1]
    a = aws_docs(root)
    write(os.path.join(HERE, 'aws.txt.gz'), a)
    b = nonaws_docs()
    write(os.path.join(HERE, 'nonaws.txt.gz'), b)
    print(f'aws: {len(a)} documents; nonaws: {len(b)} documents, '
          f'{sum(len(x) for x in b)} characters')


if __name__ == '__main__':
    main()
