"""Two maskgate hosts on one PostgreSQL: two lighttpd stacks with their own
worker pools, on 127.0.0.1 and 127.0.0.2, sharing a database. The mapping,
keys, limits and budgets are one across both."""
import concurrent.futures
import json
import os
import random

import harness
import pg
from harness import Reply, assert_envelope, auth, curl, message_reply

MODEL = "claude-sonnet-4-5"


class Host(harness.Lighttpd):
    """lighttpd on its own loopback address with `procs` maskgate workers."""
    kind = "lighttpd"

    def __init__(self, mock, addr, procs, **env):
        self.addr, self.procs_n = addr, procs
        super().__init__(mock, **env)
        self.url = "http://%s:%d" % (addr, self.port)

    def backend(self):
        return super().backend().replace('"max-procs" => 2', '"max-procs" => %d' % self.procs_n)

    def start(self):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write("""server.modules = ("mod_fastcgi")
server.bind = "%s"
server.port = %d
server.document-root = "%s"
server.errorlog = "%s/lighttpd-error.log"
server.stream-response-body = 2
fastcgi.server = ( "/" => %s )
""" % (self.addr, self.port, www, self.dir, self.backend()))
        self.procs.append(harness.spawn(["lighttpd", "-D", "-f", conf],
                                        log=os.path.join(self.dir, "stdout.log")))
        self.wait_ready()
        return self


def two_hosts(mock, procs=2):
    cluster = pg.shared()
    db = cluster.new_database()
    a = Host(mock, "127.0.0.1", procs, MASKGATE_DB=cluster.url(db)).start()
    b = Host(mock, "127.0.0.2", procs, MASKGATE_DB=cluster.url(db),
             MASKGATE_MASTER_KEY=a.master,
             MASKGATE_DATA_KEY=a.env["MASKGATE_DATA_KEY"]).start()
    return cluster, db, a, b


def ask(srv, text, key=None):
    return curl(srv.url + "/v1/messages", method="POST", headers=auth(key or srv.master), data={
        "model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": text}]})


def sent_words(mock):
    return json.loads(mock.last().body)["messages"][0]["content"].split()


def key(srv, **fields):
    s, _, b = curl(srv.url + "/key/generate", method="POST", headers=auth(srv.master), data=fields)
    assert s == 200, b
    return json.loads(b)["key"]


def standalone_two_hosts_share_everything(mock):
    cluster, db, a, b = two_hosts(mock)
    r = random.Random(21)
    v = "i-0%016x" % r.getrandbits(64)
    w = "i-0%016x" % r.getrandbits(64)
    # the same value sent to A and to B: one placeholder
    assert ask(a, "x " + v)[0] == 200
    pa = sent_words(mock)[1]
    assert ask(b, "x " + v)[0] == 200
    assert sent_words(mock)[1] == pa and v not in pa, (pa, sent_words(mock))
    # minted on A, restored in a response served by B
    assert ask(a, "y " + w)[0] == 200
    pw = sent_words(mock)[1]
    mock.script.append(message_reply("found " + pw))
    s, _, body = ask(b, "z " + w)
    assert s == 200 and json.loads(body)["content"][0]["text"] == "found " + w, body
    # a key blocked on A is refused on B at once
    k = key(a, key_alias="both")
    assert ask(b, "hello", key=k)[0] == 200
    s, _, body = curl(a.url + "/key/block", method="POST", headers=auth(a.master), data={"key": k})
    assert s == 200, body
    s, _, body = ask(b, "hello", key=k)
    assert s in (401, 403), (s, body)
    assert_envelope(body)


def standalone_two_hosts_limits(mock):
    cluster, db, a, b = two_hosts(mock)
    # rpm: 4 requests a minute whichever host serves them
    k = key(a, rpm_limit=4, key_alias="rpm")
    got = [ask((a, b)[i % 2], "hi %d" % i, key=k)[0] for i in range(6)]
    assert got[:4] == [200] * 4 and got[4:] == [429, 429], got
    # budget: one expensive request on A spends it; B refuses the next
    k2 = key(a, max_budget=0.01, key_alias="budget")
    mock.script.append(message_reply("big", usage={
        "input_tokens": 200000, "output_tokens": 100000,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}))
    assert ask(a, "spend", key=k2)[0] == 200
    s, _, body = ask(b, "more", key=k2)
    assert s == 429 and b"budget" in body, (s, body)


def standalone_two_hosts_concurrent_first_sightings(mock):
    """8 workers per host, 16 clients per host, overlapping new values:
    exactly one placeholder per value."""
    cluster, db, a, b = two_hosts(mock, procs=8)
    r = random.Random(5)
    pool = ["i-0%016x" % r.getrandbits(64) for _ in range(40)]
    jobs = []
    for i in range(32):
        vals = r.sample(pool, 12)
        jobs.append(((a, b)[i % 2], vals))

    def run(job):
        srv, vals = job
        s, _, body = ask(srv, "batch " + " ".join(vals))
        return s, vals, body

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        results = list(ex.map(run, jobs))
    for s, vals, body in results:
        assert s == 200, (s, body[:300])
    raw = mock.all_bytes()
    for v in pool:
        assert v.encode() not in raw, "upstream saw " + v
    seen = {}
    for rec in list(mock.requests):
        words = json.loads(rec.body)["messages"][0]["content"].split()
        if words and words[0] == "batch":
            for ph in words[1:]:
                seen[ph] = seen.get(ph, 0) + 1
    # 40 values, 40 placeholders, and the store holds one row per value
    rows = cluster.psql("SELECT count(*), count(DISTINCT value_hash) FROM mask_map", db)
    assert rows == "40|40", rows
    assert len(seen) == 40, len(seen)
