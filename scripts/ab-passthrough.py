#!/usr/bin/env python3
"""Same-run A/B of two trees' gateways (pass-through routes) beside the plain proxy.

usage: scripts/ab-passthrough.py OLD_TREE NEW_TREE ROUNDS SECONDS

Builds bff-mobile and bff-partner of both trees (git worktrees of two commits) and deploy/bench of
the new one, starts one bench upstream and one plain proxy on free ports, every server pinned to
core 1 with GOMAXPROCS=1, and runs wrk -t1 -c32 on core 0 against each configuration in turn,
ROUNDS times SECONDS seconds, the order rotated each round. Prints each configuration's medians
(req/s, CPU per request from /proc, ratios to the proxy of the same round) and, per route, the
medians of new over old. AB_NEW_ENV=KEY=VALUE sets one variable on the new gateways only."""
import json, os, re, socket, statistics, subprocess, sys, tempfile, time, urllib.request

old, new, rounds, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tmp = tempfile.mkdtemp(prefix="ab-")
procs = []

def build(tree, pkg, out):
    subprocess.run(["go", "build", "-o", out, "."], cwd=os.path.join(tree, pkg), check=True)

def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return "127.0.0.1:%d" % p

def env(extra):
    e = {k: v for k, v in os.environ.items() if not (k.startswith("BFF_") or k.startswith("OTEL_") or k.startswith("GOMAXPROCS") or k.startswith("AB_") or k == "GOGC")}
    e["GOMAXPROCS"] = "1"; e.update(extra); return e

def listener(argv):
    p = subprocess.Popen(["taskset", "-c", "1"] + argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env({}), text=True)
    procs.append(p)
    while True:
        line = p.stdout.readline()
        if line.startswith("listening "):
            return p, line.split()[1]

def gateway(bin, extra):
    addr, admin = free(), free()
    e = env(dict(extra, BFF_ADDR=addr, BFF_ADMIN_ADDR=admin, BFF_SHUTDOWN_TIMEOUT="2s"))
    p = subprocess.Popen(["taskset", "-c", "1", bin], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e, cwd=tmp)
    procs.append(p)
    for _ in range(300):
        try:
            if urllib.request.urlopen("http://%s/readyz" % admin, timeout=1).status == 200:
                return p, addr
        except Exception:
            time.sleep(0.1)
    raise SystemExit("gateway %s not ready" % bin)

def ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def wrk(url, hdr, d):
    args = ["taskset", "-c", "0", "wrk", "-t1", "-c32", "-d%ds" % d, url]
    if hdr: args += ["-H", hdr]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad: print("  !! non-2xx:", bad.group(1), url, file=sys.stderr)
    return n, rps

try:
    bench = os.path.join(tmp, "bench"); build(new, "deploy/bench", bench)
    bins = {}
    for tag, tree in (("old", old), ("new", new)):
        for g in ("bff-mobile", "bff-partner"):
            bins[tag, g] = os.path.join(tmp, "%s-%s" % (g, tag)); build(tree, "%s/cmd/%s" % (g, g), bins[tag, g])
    up, upaddr = listener([bench, "upstream", "-addr", "127.0.0.1:0"])
    base = "http://" + upaddr
    order = json.load(urllib.request.urlopen(base + "/orders/users/u-001/orders?limit=1"))["items"][0]["id"]
    tok = json.load(urllib.request.urlopen(base + "/__bench/token?client=mobile&sub=u-001"))["token"]
    high = "{per_minute: 100000000, burst: 1000000}"
    myaml = os.path.join(tmp, "mobile.yaml"); open(myaml, "w").write("mobile:\n  rate_limit: " + high + "\n")
    keys = open(os.path.join(new, "deploy/dev/partner-keys.yaml")).read().replace("plan: {per_minute: 100, burst: 20}", "plan: " + high, 1)
    kpath = os.path.join(tmp, "keys.yaml"); open(kpath, "w").write(keys)
    genv = {"OTEL_TRACES_SAMPLER": "always_on", "BFF_LOG_LEVEL": "info"}
    for s in ("users", "catalog", "pricing", "inventory", "orders", "reviews", "recommendations", "media", "identity"):
        genv["BFF_UPSTREAM_%s_URL" % s.upper()] = base + "/" + s
    px, pxaddr = listener([bench, "proxy", "-addr", "127.0.0.1:0", "-to", base])
    confs = [("proxy", px, "http://%s/orders/orders/%s" % (pxaddr, order), None)]
    for tag in ("old", "new"):
        tenv = dict(genv)
        if tag == "new" and os.environ.get("AB_NEW_ENV"):
            k, v = os.environ["AB_NEW_ENV"].split("=", 1); tenv[k] = v
        m, maddr = gateway(bins[tag, "bff-mobile"], dict(tenv, BFF_CONFIG=myaml))
        confs.append(("mobile-orders-" + tag, m, "http://%s/v1/orders/%s" % (maddr, order), "Authorization: Bearer " + tok))
        p, paddr = gateway(bins[tag, "bff-partner"], dict(tenv, BFF_PARTNER_KEYS_FILE=kpath, BFF_AUDIT_DIR=os.path.join(tmp, "audit-" + tag)))
        for route, path in (("partner-inventory", "/v2/inventory/p-0001"), ("partner-products", "/v2/products/p-0001")):
            confs.append(("%s-%s" % (route, tag), p, "http://%s%s" % (paddr, path), "X-API-Key: sf_dev_acme_3vQ8kT2mW9xR4pLz"))
    for name, p, url, hdr in confs:
        wrk(url, hdr, 1)
    res = {c[0]: [] for c in confs}
    for r in range(rounds):
        order_ = confs[r % len(confs):] + confs[:r % len(confs)]
        for name, p, url, hdr in order_:
            t0 = ticks(p.pid); n, rps = wrk(url, hdr, secs); t1 = ticks(p.pid)
            res[name].append((rps, (t1 - t0) * 1e6 / os.sysconf("SC_CLK_TCK") / n))
        print("round", r + 1, "done", file=sys.stderr)
    print("%-24s %9s %9s %8s %8s" % ("config", "req/s", "us/req", "vsproxy", "cpu/px"))
    for name, _, _, _ in confs:
        rs = res[name]
        vp = statistics.median(a[0] / b[0] for a, b in zip(rs, res["proxy"]))
        cp = statistics.median(a[1] / b[1] for a, b in zip(rs, res["proxy"]))
        print("%-24s %9.0f %9.1f %8.2f %8.2f" % (name, statistics.median(x[0] for x in rs), statistics.median(x[1] for x in rs), vp, cp))
    for name, p, _, _ in confs:
        hwm = re.search(r"VmHWM:\s+(\d+)", open("/proc/%d/status" % p.pid).read()).group(1)
        print("%-24s peak RSS %.1f MB" % (name, int(hwm) / 1024))
    for route in ("mobile-orders", "partner-inventory", "partner-products"):
        o, n = res[route + "-old"], res[route + "-new"]
        print("%-24s new/old req/s %.3f  cpu %.3f" % (route, statistics.median(b[0] / a[0] for a, b in zip(o, n)), statistics.median(b[1] / a[1] for a, b in zip(o, n))))
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try: p.wait(5)
        except Exception: p.kill()
