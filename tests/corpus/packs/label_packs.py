#!/usr/bin/env python3
"""label_packs.py - ground truth for the pack corpus (secrets, gcp, azure),
written from the providers' documented token formats and independent of
maskgate's rules (rules/*.rules): no pattern is shared with them.

    python3 label_packs.py            # reads packs.txt.gz, writes labels.tsv

Documents are separated by lines "\\x1eDOC <n> <provider> <source>"; labels.tsv
holds "<doc>\\t<family>\\t<byte offset>\\t<byte length>\\t<value>" (the value
with newlines written as \\n, for reading only; the test uses offset and length). A family whose name starts
with "ctx_" is a secret found by its context (a password in a URL, a value
under a secret-like key); the others have a provider-specific shape.

Formats (provider documentation):
- GitHub "About authentication" / token-format blog post: ghp_, gho_, ghu_,
  ghs_, ghr_ + 36 base62; fine-grained github_pat_ + 82.
- GitLab "Token overview": glpat-, gldt-, glrt-, glptt-, glsoat-, glcbt-,
  glimt-, glagent-, gloas-, glffct- + at least 20 [0-9A-Za-z_-].
- Slack "Token types": xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxo-, xoxe-,
  xoxe.xoxp-/xoxe.xoxb- (config tokens), xapp- (app level); incoming
  webhooks https://hooks.slack.com/services/T.../B.../<secret>.
- Stripe "API keys": sk_live_, rk_live_, sk_test_, rk_test_, whsec_.
- OpenAI: sk-proj-, sk-svcacct-, sk-admin-, legacy sk-...T3BlbkFJ...
- Anthropic: sk-ant-api03-, sk-ant-admin01-, sk-ant-oat01-, sk-ant-ort01-.
- Google API keys: AIza + 35 [0-9A-Za-z_-]. OAuth client secrets GOCSPX-.
- npm npm_ + 36; PyPI pypi-AgEIcHlwaS5vcmc...; RubyGems rubygems_ + 48 hex;
  Docker Hub dckr_pat_; Vault hvs./hvb./hvr. (and s. + 24 under a Vault or
  token name); Terraform Cloud <14>.atlasv1.<60+>; DigitalOcean dop_v1_,
  doo_v1_, dor_v1_ + 64 hex; Heroku HRKU- and UUIDs under a Heroku name;
  SendGrid SG.<22>.<43>; Mailgun key-<32 hex>; New Relic NRAK-/NRII-/...;
  Sentry DSN key (32 hex before @...sentry.io) and sntrys_/sntryu_;
  Shopify shpat_/shpca_/shppa_/shpss_ + 32 hex; Atlassian ATATT, ATBB,
  ATCTT; Linear lin_api_; Notion ntn_/secret_ + 43; Hugging Face hf_;
  Azure Entra client secrets <3>\\dQ~<31-34>; Azure storage AccountKey=
  (88 base64), SharedAccessKey=, SAS sig=.
- JWT (RFC 7519): base64url header and payload that decode to JSON objects.
- PEM (RFC 7468) / OpenSSH private keys: BEGIN ... PRIVATE KEY to END ...
  PRIVATE KEY, the whole block; PGP private key blocks (RFC 4880).
- Kubernetes Secret (kind: Secret) data values; kubeconfig client-key-data.
- GCP service-account key files: private_key_id (40 hex), client_email
  (...@PROJECT.iam.gserviceaccount.com), project_id.
- Azure resource IDs /subscriptions/<uuid>/resourceGroups/<name>.

Decisions where the formats leave room (said here, not hidden): a value is
not labelled when it is a reference or a placeholder (${X}, $X, {{ x }},
<x>, [X], a run of one repeated character, the words password / pass /
secret / token / changeme / test / username / xxx, or equal to the user
name); a context-found value under a secret-like name (password, passwd,
pwd, passphrase, secret, client_secret, api_key, apikey, access_token,
auth_token, private_key, secret_key; not pagination tokens such as
next_token), as configuration writes it (at the start of a line, or as a
JSON member), is labelled when it is at least 8 characters long and holds
a digit or a symbol other than . _ - ~ : / and no space, and is no date (a word such as "bearer", a class
or module name such as "AMLToken" or code such as "Optional[str]" is not
a secret).
"""
import base64
import gzip
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

PROVIDER = [
    ('github', r'(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36})(?![A-Za-z0-9_])'),
    ('github', r'(?<![A-Za-z0-9_])(github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])'),
    ('gitlab', r'(?<![A-Za-z0-9_-])((?:glpat|gldt|glrt|glptt|glsoat|glcbt|glimt|glagent|gloas|glffct)-[0-9A-Za-z_-]{20,})'),
    ('slack', r'(?<![A-Za-z0-9_-])(xox[bparso]-[0-9A-Za-z-]{10,}|xoxe\.xox[bp]-\d-[0-9A-Za-z]{40,}|xoxe-\d-[0-9A-Za-z]{40,}|xapp-\d-[0-9A-Za-z-]{20,})'),
    ('slack_webhook', r'hooks\.slack\.com/((?:services|workflows|triggers)/[0-9A-Za-z/]{20,})'),
    ('stripe', r'(?<![A-Za-z0-9_])((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}|whsec_[0-9A-Za-z]{24,})'),
    ('openai', r'(?<![A-Za-z0-9_-])(sk-(?:proj|svcacct|admin)-[0-9A-Za-z_-]{20,}|sk-[0-9A-Za-z_-]*T3BlbkFJ[0-9A-Za-z_-]+)'),
    ('anthropic', r'(?<![A-Za-z0-9_-])(sk-ant-(?:api|admin|oat|ort)\d\d-[0-9A-Za-z_-]{20,})'),
    ('google_api_key', r'(?<![A-Za-z0-9_-])(AIza[0-9A-Za-z_-]{35})'),
    ('gcp_oauth_secret', r'(?<![A-Za-z0-9_-])(GOCSPX-[0-9A-Za-z_-]{28})'),
    ('npm', r'(?<![A-Za-z0-9_])(npm_[0-9A-Za-z]{36})(?![A-Za-z0-9])'),
    ('pypi', r'(pypi-AgE[0-9A-Za-z_-]{50,})'),
    ('rubygems', r'(rubygems_[0-9a-f]{48})'),
    ('dockerhub', r'(dckr_(?:pat|oat)_[0-9A-Za-z_-]{20,})'),
    ('vault', r'(?<![A-Za-z0-9_-])(hv[sbr]\.[0-9A-Za-z_-]{24,})'),
    ('terraform', r'([0-9A-Za-z]{14}\.atlasv1\.[0-9A-Za-z_=-]{60,})'),
    ('digitalocean', r'(do[por]_v1_[0-9a-f]{64})'),
    ('heroku', r'(HRKU-[0-9A-Za-z_-]{60})'),
    ('sendgrid', r'(SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43})'),
    ('mailgun', r'(?<![A-Za-z0-9-])(key-[0-9a-f]{32})(?![0-9a-f])'),
    ('newrelic', r'(NR(?:AK|II|JS|IQ|RA|SP|AA)-[0-9A-Z]{19,32})'),
    ('sentry', r'https?://([0-9a-f]{32})@[0-9a-z.-]*sentry\.io'),
    ('sentry', r'(sntry[su]_[0-9A-Za-z_=+/-]{40,})'),
    ('shopify', r'(shp(?:at|ca|pa|ss)_[0-9a-fA-F]{32})'),
    ('atlassian', r'(?<![A-Za-z0-9])(ATATT3[0-9A-Za-z_=-]{60,}|ATCTT3[0-9A-Za-z_=-]{60,}|ATBB[0-9A-Za-z]{28,})'),
    ('linear', r'(lin_(?:api|oauth)_[0-9A-Za-z]{40})'),
    ('notion', r'(?<![A-Za-z0-9_])(ntn_[0-9]{11}[0-9A-Za-z]{35}|secret_[0-9A-Za-z]{43})(?![A-Za-z0-9])'),
    ('huggingface', r'(?<![A-Za-z0-9_])(hf_[A-Za-z]{34}|api_org_[A-Za-z]{34})(?![A-Za-z0-9])'),
    ('azure_client_secret', r'(?<![A-Za-z0-9_~.-])([0-9A-Za-z_~.]{3}\dQ~[0-9A-Za-z_~.-]{31,34})(?![A-Za-z0-9_~.-])'),
    ('azure_storage_key', r'(?i:AccountKey)=([0-9A-Za-z+/]{86}==)'),
    ('azure_shared_access_key', r'(?i:SharedAccessKey)=([0-9A-Za-z+/]{43}=)'),
    ('azure_sas', r'[?&]sig=((?:[0-9A-Za-z+/]|%[0-9A-Fa-f]{2}){40,})'),
    ('jwt', r'(?<![A-Za-z0-9_-])(eyJ[0-9A-Za-z_-]+\.eyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*)'),
    ('private_key', r'(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----.*?-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----)'),
    ('pgp_private_key', r'(-----BEGIN PGP PRIVATE KEY BLOCK-----.*?-----END PGP PRIVATE KEY BLOCK-----)'),
    ('gcp_service_account', r'(?<![A-Za-z0-9._%+-])([a-z0-9][a-z0-9-]{0,62}@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com)'),
    ('gcp_key_id', r'"private_key_id"\s*:\s*"([0-9a-f]{40})"'),
    ('azure_subscription', r'/subscriptions/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})'),
]
PLACEHOLDER_WORDS = {'password', 'pass', 'passwd', 'secret', 'token', 'changeme', 'test', 'username',
                     'user', 'xxx', 'pwd', 'yourpassword', 'mypassword', 'example'}
SECRET_KEYS = r'(?:password|passwd|pwd|passphrase|secret|client_secret|clientsecret|api_key|apikey|access_token|auth_token|private_key|secret_key|token)'


def is_placeholder(v, user=None):
    if not v or re.match(r'^[$<\[{(%*#]', v) or re.search(r'[(){}\[\]]', v):
        return True    # a reference, a template or code
    if len(set(v.replace('-', '').replace('_', ''))) <= 1:
        return True
    if re.search(r'(.)\1{5,}', v) or re.search(r'(?i)x{4,}', v):
        return True
    if v.lower() in PLACEHOLDER_WORDS or (user is not None and v == user):
        return True
    if re.fullmatch(r'[A-Z][A-Z0-9_]*_[A-Z0-9_]+', v):
        return True    # a constant or variable name
    if re.fullmatch(r'(?i)(?:my|your)[-_]?[a-z_-]*', v):
        return True
    return False


def secret_shaped(v):
    if len(v) < 8 or is_placeholder(v):
        return False
    if re.fullmatch(r'[a-z_.-]+', v):
        return False    # a word or a dotted name
    if re.fullmatch(r'[~A-Za-z_][A-Za-z_.~:/-]*', v) or v.endswith(('.', ':')) or 'None' in v \
            or ' ' in v or re.fullmatch(r'\d{4}-\d\d-\d\d', v):
        return False    # an identifier, a class, module or scope name, prose, a date
    return bool(re.search(r'[0-9]', v) or re.search(r'[^A-Za-z0-9]', v))


def jwt_ok(v):
    parts = v.split('.')
    for p in parts[:2]:
        try:
            t = base64.urlsafe_b64decode(p + '=' * (-len(p) % 4)).decode('utf-8', 'replace')
        except Exception:
            return False
        if not t.lstrip().startswith('{'):
            return False
    return True


def label(text):
    out = []
    taken = []

    def add(fam, start, value):
        end = start + len(value)
        for s, e in taken:
            if start < e and s < end:
                return
        taken.append((start, end))
        out.append((fam, start, value))

    for fam, pat in PROVIDER:
        for m in re.finditer(pat, text, re.S):
            v, s = m.group(1), m.start(1)
            if fam == 'jwt' and not jwt_ok(v):
                continue
            if fam == 'private_key' and not re.search(r'[A-Za-z0-9+/]{40}', v):
                continue    # "MIIE...fake...key": no key material
            if fam not in ('private_key', 'pgp_private_key', 'jwt') and is_placeholder(v):
                continue
            add(fam, s, v)
    # context-found: user:password@ in URLs
    for m in re.finditer(r'[A-Za-z][A-Za-z0-9+.-]*://([^\s:/@\'"<>]+):([^\s/@\'"<>]+)@[A-Za-z0-9\[(]', text):
        if not is_placeholder(m.group(2), m.group(1)):
            add('ctx_url_password', m.start(2), m.group(2))
    # curl -u user:password
    for m in re.finditer(r'(?:-u|--user)\s+["\']?([^\s:"\']+):["\']?([^\s"\']+?)["\']?(?=\s)', text):
        if not is_placeholder(m.group(2), m.group(1)):
            add('ctx_cli_password', m.start(2), m.group(2))
    # password= in connection strings and queries
    for m in re.finditer(r'(?i)[;?&](?:password|pwd)=([^;&\s\'"<]+)', text):
        if not is_placeholder(m.group(1)):
            add('ctx_conn_password', m.start(1), m.group(1))
    # key: value / key = value under a secret-like key name, as configuration
    # writes it: at the start of a line (.env, YAML, INI, properties, TOML,
    # shell export) or as a JSON member
    for m in re.finditer(r'(?im)(?:^[ \t]*(?:export[ \t]+|-[ \t]+)?|[{,][ \t]*)["\']?(?!(?:next|page|continuation)[_-]?token)'
                         r'[A-Za-z0-9_.-]{0,30}' + SECRET_KEYS +
                         r'["\']?[ \t]*(?:[:=]|=>)[ \t]*(?:"([^"\n]*)"|\'([^\'\n]*)\'|([^\s"\',;]+))', text):
        g = 1 if m.group(1) is not None else 2 if m.group(2) is not None else 3
        v = m.group(g)
        if secret_shaped(v):
            add('ctx_config_secret', m.start(g), v)
    # Kubernetes Secret data values
    if re.search(r'(?im)^\s*["\']?kind["\']?\s*:\s*["\']?secret["\']?\s*$', text):
        for m in re.finditer(r'(?m)^(?:data|stringData):[ \t]*\n((?:[ \t]+[^\n]*\n?)+)', text):
            for v in re.finditer(r'(?m)^[ \t]+[A-Za-z0-9_.-]+:[ \t]*["\']?([A-Za-z0-9+/]{4,}={0,2})["\']?[ \t]*$', m.group(1)):
                add('ctx_k8s_secret', m.start(1) + v.start(1), v.group(1))
    # kubeconfig client keys
    for m in re.finditer(r'client-key-data:\s*([A-Za-z0-9+/=]{40,})', text):
        add('ctx_kube_key', m.start(1), m.group(1))
    out.sort(key=lambda x: x[1])
    return out


def docs(path):
    with gzip.open(path, 'rt', encoding='utf-8', newline='') as f:
        data = f.read()
    parts = data.split('\x1eDOC ')
    for p in parts[1:]:
        head, _, body = p.partition('\n')
        yield int(head.split(' ', 1)[0]), body


def main(src=None):
    src = src or os.path.join(HERE, 'packs.txt.gz')
    n = 0
    with open(os.path.join(HERE, 'labels.tsv'), 'w', encoding='utf-8') as out:
        out.write('# doc\tfamily\toffset\tlength\tvalue (label_packs.py)\n')
        for i, body in docs(src):
            raw = body.encode('utf-8')
            for fam, s, v in label(body):
                off = len(body[:s].encode('utf-8'))
                assert raw[off:off + len(v.encode('utf-8'))] == v.encode('utf-8')
                vb = len(v.encode('utf-8'))
                shown = v.replace('\\', '\\\\').replace('\n', '\\n').replace('\t', '\\t')
                out.write(f'{i}\t{fam}\t{off}\t{vb}\t{shown}\n')
                n += 1
    print(f'{n} labels')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else None)
