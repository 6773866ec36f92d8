#!/usr/bin/env python3
"""label.py - ground truth for the third-party corpus, written from AWS's
documented formats and independent of maskgate's rules (rules/aws.rules).

Reads aws.txt.gz (documents separated by lines "\\x1eDOC <n> <service> <source>")
and writes labels.tsv: "<doc>\\t<family>\\t<byte offset>\\t<value>", one labelled
occurrence per line. The test counts an occurrence as caught when masking
covers it (credentials: all of it; other families: any part of it).

Sources of the formats (AWS documentation):
- IAM User Guide, "Unique identifiers" / "Managing access keys": access key IDs
  AKIA (long-term), ASIA (temporary); ABIA, ACCA and A3T key-ID prefixes as
  published by AWS's secret-scanning partners.
- STS API reference: Credentials{AccessKeyId, SecretAccessKey (40 chars),
  SessionToken}; SigV4 "Authenticating requests" (Authorization header,
  X-Amz-Credential, X-Amz-Signature, X-Amz-Security-Token query parameters).
- EC2 User Guide, "Resource IDs": prefix, hyphen, 8 or 17 hexadecimal characters.
- "Amazon Resource Names (ARNs)": arn:partition:service:region:account-id:resource.
- Organizations API: o-[a-z0-9]{10,32}, ou-[a-z0-9]{4,32}-[a-z0-9]{8,32},
  r-[a-z0-9]{4,32}.
- Bedrock API keys (ABSK..., bedrock-api-key-...), AppSync API keys (da2- and
  26 characters), MWS auth tokens (amzn.mws.<uuid>).
- EC2 instance host names: ip-a-b-c-d.ec2.internal, ip-a-b-c-d.REGION.compute.internal,
  ec2-a-b-c-d.REGION.compute.amazonaws.com.
"""
import gzip
import ipaddress
import os
import re
import sys

REGION = r'(?:[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d)'
KEYID = re.compile(r'(?<![A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?![A-Za-z0-9])')
B40 = re.compile(r'(?<![A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])')
LONGB64 = re.compile(r'(?<![A-Za-z0-9/+%])([A-Za-z0-9/+%]{100,}={0,2}(?:%3D){0,2})(?![A-Za-z0-9/+=%])')
STS_PREFIX = re.compile(r'(?<![A-Za-z0-9/+])((?:IQoJb3JpZ2luX2|FwoGZXIvYXdz|FQoGZXIvYXdz|AQoDYXdz|AgoJb3JpZ2luX2)[A-Za-z0-9/+]{40,}={0,2})')
ARN = re.compile(r'(?<![\w-])(arn:aws(?:-[a-z]+(?:-[a-z])?)?:[a-z0-9-]+:(?:' + REGION + r')?:(\d{12}):[A-Za-z0-9_+=,.@:/*#-]*[A-Za-z0-9_+=@/*-])')
ARN_S3 = re.compile(r'(?<![\w-])arn:aws(?:-[a-z]+)?:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?![a-z0-9.-])')
S3URI = re.compile(r'(?<![\w.-])s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?![a-z0-9:-]|\.[a-z0-9])')
BUCKETKEY = re.compile(r'(?:"(?i:bucket(?:name)?)"\s*:\s*"|--bucket\s+)([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?=["\'\s,]|$)')
RID17 = re.compile(r'(?<![\w-])([a-z][a-z0-9]*(?:-[a-z][a-z0-9]*){0,3}-[0-9a-f]{17})(?![\w-])')
RID8 = re.compile(r'(?i:id"?\s*[:=]\s*\[?\s*"?|ids"?\s*:\s*\[\s*"|--[a-z-]*ids?[ =]"?)([a-z][a-z0-9]*(?:-[a-z][a-z0-9]*){0,3}-[0-9a-f]{8})(?![\w-])')
ORG = re.compile(r'(?<![\w-])(o-[a-z0-9]{10,32}|ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})(?![\w-])')
ROOT = re.compile(r'(?i:(?:root|parent|target)[_-]?ids?"?\s*[:=]?\s*"?)(r-[a-z0-9]{4,32})(?![\w-])')
ACCT_KEY = re.compile(r'(?i)(?<![A-Za-z0-9])[A-Za-z_-]{0,30}(?:account|owner|principal|registry|requester|payer|user-?ids?|"aws")[A-Za-z_-]{0,20}"?\s*[:=]?\s*\[?\s*"?(\d{12})(?![\w-])')
ACCT_HOST = re.compile(r'(?<![\w.-])(\d{12})\.dkr\.ecr\.|amazonaws\.com(?:\.cn)?/(\d{12})/')
PRIV_HOST = re.compile(r'(?<![\w.-])(ip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}\.(?:ec2|' + REGION + r'\.compute)\.internal)(?![\w-])')
PUB_HOST = re.compile(r'(?<![\w.-])(ec2-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}\.(?:' + REGION + r'\.)?compute(?:-1)?\.amazonaws\.com)(?![\w-])')
CF_HOST = re.compile(r'(?<![\w.-])([a-z0-9]{13,14}\.cloudfront\.net)(?![\w-])')
IPV4 = re.compile(r'(?<![\w.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\w]|\.\d)')
PRESIGN = re.compile(r'(?i)X-Amz-(?:Signature|Security-Token)=([^&\s"\'<>]+)|X-Amz-Credential=([A-Z0-9]{16,128})(?=%2F|/)')
SIGV4 = re.compile(r'AWS4-HMAC-SHA256\s+Credential=([A-Z0-9]{16,128})/[^,\s]+,\s*SignedHeaders=[^,\s]+,\s*Signature=([0-9a-f]{64})')
OTHER = [
    ('bedrock_key', re.compile(r'(?<![A-Za-z0-9])(ABSK[A-Za-z0-9+/]{40,}={0,2})')),
    ('bedrock_key', re.compile(r'(?<![\w-])(bedrock-api-key-[A-Za-z0-9+/=_-]{20,})')),
    ('appsync_key', re.compile(r'(?<![\w-])(da2-[a-z0-9]{26})(?![a-z0-9])')),
    ('mws_token', re.compile(r'(?<![\w.])(amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![\w-])')),
]
SECRET_NAME = re.compile(r'(?i)secret')
# the key a value stands under: session/security token names, not pagination tokens
TOKEN_NAME = re.compile(r'(?i)(?:^|[^a-z])(?:(?:aws[_-]?)?session[_-]?token|security[_-]?token|session|token)["\']?\s*[:=]\s*["\']?$')


def public_ip(s, before):
    """Public IPv4 (RFC 6890 special-purpose and documentation ranges are
    not). Four small numbers (first below 10, or all below 32) are as much a
    version as an address: labelled only with an address word before them
    (ip, address, host, cidr, server, ...); after "version" never."""
    try:
        a = ipaddress.IPv4Address(s)
    except ValueError:
        return False
    o = [int(x) for x in s.split('.')]
    if re.search(r'(?i)(?:\bv|version["\']?\s*[:=]?\s*["\']?|release\s*)$', before[-16:]):
        return False
    if (o[0] < 10 or max(o) < 32) and not re.search(r'(?i)(?:\bip|[a-z]Ip|address|host|cidr|server)[^\n]{0,30}$', before):
        return False
    doc = [ipaddress.ip_network(n) for n in ('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.18.0.0/15', '100.64.0.0/10')]
    return a.is_global and not any(a in n for n in doc) and not a.is_multicast


def label(doc):
    """Returns [(family, value, start)] for one document (byte offsets when
    doc was decoded as latin-1)."""
    out = []

    def add(fam, m, g=1):
        out.append((fam, m.group(g), m.start(g)))

    lines = doc.split('\n')
    starts = []
    pos = 0
    for ln in lines:
        starts.append(pos)
        pos += len(ln) + 1
    keyid_lines = set()
    for i, ln in enumerate(lines):
        for m in KEYID.finditer(ln):
            out.append(('access_key_id', m.group(1), starts[i] + m.start(1)))
            keyid_lines.add(i)
    for i, ln in enumerate(lines):
        for m in B40.finditer(ln):
            v = m.group(1)
            near = any(j in keyid_lines for j in (i - 2, i - 1, i, i + 1, i + 2))
            if SECRET_NAME.search(ln[:m.start()]) or (near and re.search(r'[A-Za-z]', v) and not re.search(r'\.[a-z]', ln[:m.start()][-2:])):
                if not re.fullmatch(r'[A-Za-z]+', v) and not KEYID.search(v):
                    out.append(('secret_access_key', v, starts[i] + m.start(1)))
        for m in LONGB64.finditer(ln):
            if TOKEN_NAME.search(ln[:m.start()]):
                out.append(('session_token', m.group(1), starts[i] + m.start(1)))
        for m in STS_PREFIX.finditer(ln):
            out.append(('session_token', m.group(1), starts[i] + m.start(1)))
    for m in PRESIGN.finditer(doc):
        add('presigned', m, 1 if m.group(1) is not None else 2)
    for m in SIGV4.finditer(doc):
        add('presigned', m, 1)
        add('presigned', m, 2)
    for fam, rx in OTHER:
        for m in rx.finditer(doc):
            add(fam, m)
    for m in ARN.finditer(doc):
        add('arn', m)
        if len(set(m.group(2))) > 1:
            add('account_id', m, 2)
    for rx in (ARN_S3, S3URI, BUCKETKEY):
        for m in rx.finditer(doc):
            add('s3_bucket', m)
    for m in ACCT_KEY.finditer(doc):
        if len(set(m.group(1))) > 1:
            add('account_id', m)
    for m in ACCT_HOST.finditer(doc):
        g = 1 if m.group(1) else 2
        if len(set(m.group(g))) > 1:
            add('account_id', m, g)
    for m in RID17.finditer(doc):
        add('resource_id', m)
    for m in RID8.finditer(doc):
        if re.search(r'\d', m.group(1).rsplit('-', 1)[1]):
            add('resource_id', m)
    for rx in (ORG, ROOT):
        for m in rx.finditer(doc):
            if re.search(r'\d', m.group(1)):
                add('org_id', m)
    for rx in (PRIV_HOST, PUB_HOST, CF_HOST):
        for m in rx.finditer(doc):
            add('host', m)
    for m in IPV4.finditer(doc):
        if public_ip(m.group(1), doc[max(0, m.start() - 40):m.start()]):
            add('ipv4', m)
    seen, res = set(), []
    for f, v, st in sorted(out, key=lambda x: x[2]):
        if (st, v) not in seen:
            seen.add((st, v))
            res.append((f, v, st))
    return res


def read_docs(path):
    # latin-1: one character per byte, so offsets are byte offsets
    with gzip.open(path, 'rt', encoding='latin-1', newline='') as f:
        data = f.read()
    docs = []
    for part in data.split('\x1eDOC ')[1:]:
        head, _, body = part.partition('\n')
        docs.append((head, body))
    return docs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'aws.txt.gz')
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, 'labels.tsv')
    with open(dst, 'w', encoding='latin-1') as f:
        f.write('# generated by label.py from aws.txt.gz: doc<TAB>family<TAB>byte offset<TAB>value\n')
        for head, body in read_docs(src):
            n = head.split()[0]
            for fam, v, st in label(body):
                f.write(f'{n}\t{fam}\t{st}\t{v}\n')


if __name__ == '__main__':
    main()
