#!/usr/bin/env python3
"""build_packs.py - assembles the pack corpus (run once by hand; its output
is committed, so tests never read the machine's files).

    python3 build_packs.py DEBROOT

DEBROOT holds Debian bookworm packages unpacked with `dpkg -x` (the list is
PACKAGES below; `apt-get download` them). Writes next to this script:

  packs.txt.gz      positives: fixtures.txt (scanners' fixtures, quoted) and
                    the files of those packages in which label_packs.py
                    finds a credential (documentation examples, test keys)
  packs_neg.txt.gz  negatives: negatives.txt (scanners' false-positive
                    fixtures, code that names credentials without holding
                    one), real configuration files of this machine's /etc
                    and /usr/share/doc examples, and source files of those
                    packages in which the labeller finds nothing

then runs label_packs.py for labels.tsv. A negative document never holds a
label: every masked span in it is a false placeholder.
"""
import glob
import gzip
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import label_packs  # noqa: E402

PACKAGES = ['python3-azure', 'python3-jwt', 'python3-hvac', 'python3-gitlab', 'python3-github',
            'python3-stripe', 'python3-twilio', 'python3-sentry-sdk', 'python3-google-auth',
            'python3-docker', 'python3-kubernetes', 'libpython3.11-testsuite', 'python3-oauth2client']
MAX_DOC = 60_000
NEG_SDK_BYTES = 1_200_000
NEG_CONF_BYTES = 900_000
POS_PER_DIR = 2
POS_BYTES = 450_000


def fixture_docs(name):
    out = []
    text = open(os.path.join(HERE, name), encoding='utf-8').read()
    for part in text.split('\n%%\n'):
        lines = part.split('\n')
        while lines and lines[0].startswith('#'):
            lines.pop(0)
        if not lines:
            continue
        head, body = lines[0], '\n'.join(lines[1:])
        prov, src = head.split(' ', 1)
        out.append((prov, src, body + '\n'))
    return out


def read_text(path):
    try:
        if os.path.getsize(path) > MAX_DOC or os.path.islink(path):
            return None
        raw = open(path, 'rb').read()
    except OSError:
        return None
    if b'\0' in raw:
        return None
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return None


def main():
    root = sys.argv[1]
    pos = fixture_docs('fixtures.txt')
    neg = fixture_docs('negatives.txt')
    per_dir = {}
    sdk = 0
    posb = 0
    files = sorted(f for f in glob.glob(root + '/usr/**/*', recursive=True) if os.path.isfile(f))
    for f in files:
        t = read_text(f)
        if t is None or len(t) < 200:
            continue
        rel = os.path.relpath(f, root)
        labels = label_packs.label(t)
        if labels:
            d = os.path.dirname(rel)
            if per_dir.get(d, 0) >= POS_PER_DIR or posb + len(t) > POS_BYTES:
                continue
            posb += len(t)
            per_dir[d] = per_dir.get(d, 0) + 1
            pos.append(('debian', '/' + rel, t))
        elif sdk < NEG_SDK_BYTES and rel.endswith('.py') and \
                re.search(r'(?i)password|secret|token|api_key|private_key', t) and \
                'azure' not in rel:
            neg.append(('debian', '/' + rel, t))
            sdk += len(t)
    conf = 0
    cands = sorted(glob.glob('/etc/**/*', recursive=True)) + \
        sorted(glob.glob('/usr/share/doc/*/examples/**/*', recursive=True))
    for f in cands:
        if conf >= NEG_CONF_BYTES or not os.path.isfile(f):
            continue
        if '/etc/ssl/' in f or f.endswith(('.pem', '.key', 'shadow', 'shadow-', 'gshadow', 'gshadow-')):
            continue
        t = read_text(f)
        if t is None or len(t) < 100 or label_packs.label(t):
            continue
        neg.append(('config', f, t))
        conf += len(t)
    for name, docs in (('packs.txt.gz', pos), ('packs_neg.txt.gz', neg)):
        with gzip.open(os.path.join(HERE, name), 'wt', encoding='utf-8', newline='') as out:
            for i, (prov, src, body) in enumerate(docs):
                out.write(f'\x1eDOC {i} {prov} {src}\n{body}')
    print(f'positives: {len(pos)} documents; negatives: {len(neg)} documents, '
          f'{sum(len(b) for _, _, b in neg)} characters (sdk {sdk}, configs {conf})')
    label_packs.main()


if __name__ == '__main__':
    main()
