#!/usr/bin/python3
"""Offline checks of the container images and Kubernetes manifests.

No cluster and no container engine are needed (issue 6, docs/design.md §12):

  * every Kustomize target (the base, the dev and production overlays and
    the KEDA component) renders with `kubectl kustomize`, and the rendered
    objects are read back as JSON with `kubectl label --local -o json`
    (which needs no API server, unlike `kubectl create --dry-run`);
  * the objects hold what the programs really need, judged against the
    REAL programs built in $MF_BUILD_DIR/bin: every `--flag` in a
    container's args and every MAILFERRY_* variable it gets must be in
    that program's `--help`; the probe paths must be in the binary; the
    probe port must be the --http-listen port; every `--*-file` path must
    be a file of a mounted Secret; the grace period must exceed the
    worker's --shutdown-timeout; the KEDA trigger must watch the topic,
    group and brokers the workers use;
  * deploy/docker/Dockerfile parses (stages, USER, ENTRYPOINT), its build
    stage installs scripts/packages.txt and nothing else, its runtime
    packages exist in Debian 12 and provide every shared library the
    built binaries load;
  * docs/operations.md names error codes as core/include/mailferry/err.h
    numbers them.

Each check prints "ok" or "FAIL" with the reason; the last line is
"N passed, N failed". Exit 1 if anything failed.

    tests/integration/deploy/deploy_test.py            (ctest: integration.deploy.manifests)
    MF_BUILD_DIR=build tests/integration/deploy/deploy_test.py
"""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MF_SOURCE_DIR") or os.path.abspath(
    os.path.join(HERE, "..", "..", ".."))
BUILD = os.environ.get("MF_BUILD_DIR") or os.path.join(SRC, "build")
BIN = os.path.join(BUILD, "bin")
K8S = os.path.join(SRC, "deploy", "k8s")
DOCKERFILE = os.path.join(SRC, "deploy", "docker", "Dockerfile")

TARGETS = {
    "base": os.path.join(K8S, "base"),
    "dev": os.path.join(K8S, "overlays", "dev"),
    "production": os.path.join(K8S, "overlays", "production"),
    "keda": os.path.join(K8S, "components", "keda"),
}
# Image name in the manifests -> (Dockerfile target, program in the image).
IMAGES = {
    "mailferry-worker": ("worker", "mailferry-worker"),
    "mailferry": ("coordinator", "mailferry"),
}
WORKER_GROUP = "mailferry-workers"
APP_UID = 10001

passed = 0
failed = 0


def check(ok, what, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what + (": " + why if why else ""))
    return ok


def run(argv, stdin=None, timeout=60):
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, "", str(e)
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------------------------ #
# The programs                                                        #
# ------------------------------------------------------------------ #

class Program:
    """A built program and the help text of one of its commands."""

    _cache = {}

    @classmethod
    def help(cls, prog, words):
        """(text or None, why) of `prog words... --help`."""
        key = (prog, tuple(words))
        if key in cls._cache:
            return cls._cache[key]
        path = os.path.join(BIN, prog)
        if not os.access(path, os.X_OK):
            res = (None, "%s is not built (build it: cmake --build %s "
                   "--target %s)" % (path, BUILD, prog))
        else:
            rc, out, err = run([path] + list(words) + ["--help"], timeout=15)
            text = out + err
            if rc != 0:
                res = (None, "`%s --help` exits %d: %s" % (
                    " ".join([prog] + list(words)), rc,
                    text.strip().splitlines()[0] if text.strip() else ""))
            else:
                res = (text, "")
        cls._cache[key] = res
        return res

    @staticmethod
    def binary_has(prog, needle):
        path = os.path.join(BIN, prog)
        try:
            with open(path, "rb") as f:
                return needle.encode() in f.read()
        except OSError:
            return False


def help_has_flag(text, flag):
    """True if the help text documents --flag (as a whole word)."""
    return re.search(r"(?<![\w-])--" + re.escape(flag) + r"(?![\w-])",
                     text) is not None


def help_has_kafka_passthrough(text):
    """True if the help documents librdkafka properties as kafka.<prop>."""
    return re.search(r"kafka\.(<|\*|PROP|prop|\[)", text) is not None


def help_default_seconds(text, flag):
    """The default duration (seconds) the help states for --flag, or None."""
    for line in text.splitlines():
        if help_has_flag(line, flag):
            m = re.search(r"(?:default:?\s*|\()(\d+)\s*(s|m)\b", line)
            if m:
                return int(m.group(1)) * (60 if m.group(2) == "m" else 1)
    return None


def duration_seconds(s):
    m = re.fullmatch(r"(\d+)\s*(s|m|h)?", s.strip())
    if not m:
        return None
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


# ------------------------------------------------------------------ #
# Rendering                                                           #
# ------------------------------------------------------------------ #

def kubectl():
    for c in ("/usr/bin/kubectl", shutil.which("kubectl")):
        if c and os.access(c, os.X_OK):
            return c
    return None


def parse_json_stream(text):
    dec = json.JSONDecoder()
    objs, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = dec.raw_decode(text, i)
        if obj.get("kind") == "List":
            objs.extend(obj.get("items", []))
        else:
            objs.append(obj)
    return objs


def render(kc, name, path):
    rc, yaml_text, err = run([kc, "kustomize", path])
    if not check(rc == 0, "%s: kubectl kustomize renders" % name,
                 err.strip()):
        return None
    # `label --local` prints the objects it read as JSON without asking a
    # server; removing a label nobody has changes nothing but an empty
    # "labels" map.
    rc, out, err = run([kc, "label", "--local", "-f", "-", "-o", "json",
                        "mailferry-render-check-"], stdin=yaml_text)
    if not check(rc == 0, "%s: rendered YAML reads back as JSON" % name,
                 err.strip()):
        return None
    return parse_json_stream(out)


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def named(objs, kind, name):
    for o in by_kind(objs, kind):
        if o["metadata"]["name"] == name:
            return o
    return None


def image_name(image):
    """"registry/x/mailferry-worker:0.1.0" -> "mailferry-worker"."""
    base = image.split("@")[0].rsplit("/", 1)[-1]
    return base.split(":")[0]


# ------------------------------------------------------------------ #
# Kubernetes checks                                                   #
# ------------------------------------------------------------------ #

def container_env(objs, c, t=None):
    """{name: value or None} of every variable the container gets, with
    envFrom ConfigMaps and Secrets resolved where they are rendered."""
    env = {}
    for ref in c.get("envFrom", []):
        if "configMapRef" in ref:
            cm = named(objs, "ConfigMap", ref["configMapRef"]["name"])
            if t:
                check(cm is not None, "%s: %s: envFrom ConfigMap %s is "
                      "rendered" % (t, c["name"], ref["configMapRef"]["name"]))
            for k, v in (cm or {}).get("data", {}).items():
                env[ref.get("prefix", "") + k] = v
        if "secretRef" in ref:
            sec = named(objs, "Secret", ref["secretRef"]["name"])
            for k in (sec or {}).get("data", {}):
                env[ref.get("prefix", "") + k] = None
    for e in c.get("env", []):
        env[e["name"]] = e.get("value")
    return env


def flags_of(args):
    """[(flag, value or None)] of "--flag=value" / "--switch" args."""
    out = []
    for a in args:
        if a.startswith("--"):
            k, eq, v = a[2:].partition("=")
            out.append((k, v if eq else None))
    return out


def check_program_args(t, c, prog, words, text):
    args = c.get("args", [])
    pos = [a for a in args if not a.startswith("--")]
    check(pos == list(words), "%s: %s: positional args are the command %r" %
          (t, c["name"], words), "found %r" % pos)
    for flag, value in flags_of(args):
        what = "%s: %s: flag --%s is in `%s --help`" % (
            t, c["name"], flag, " ".join([prog] + list(words)))
        if flag.startswith("kafka."):
            check(help_has_kafka_passthrough(text), what,
                  "the help does not document kafka.<prop> pass-through")
        else:
            check(help_has_flag(text, flag), what, "no such flag")
    # Values must be given as --flag=value: a separate word would read as
    # a positional argument above.
    for a in args:
        if a.startswith("--") and "=" not in a:
            check(False, "%s: %s: %s given as --flag=value" % (
                t, c["name"], a), "switches are not used in the manifests")


def check_program_env(t, objs, c, prog, words, text):
    for name, value in sorted(container_env(objs, c, t).items()):
        if not name.startswith("MAILFERRY_"):
            check(False, "%s: %s: env %s is a MAILFERRY_* setting" %
                  (t, c["name"], name), "mailferry reads no other variable")
            continue
        rest = name[len("MAILFERRY_"):].lower()
        what = "%s: %s: env %s maps to a real key" % (t, c["name"], name)
        if rest.startswith("kafka_"):
            # MAILFERRY_KAFKA_<PROP> -> kafka.<prop> with '_' read as '.'
            # (config.h), so a "-file" secret cannot be named this way.
            if rest.endswith("_file"):
                check(False, what, "would be kafka.%s, not a -file key: "
                      "use --kafka.<prop>-file=PATH" %
                      rest[6:].replace("_", "."))
            else:
                check(help_has_kafka_passthrough(text), what,
                      "kafka.<prop> pass-through not in the help")
        else:
            flag = rest.replace("_", "-")
            check(help_has_flag(text, flag), what,
                  "--%s is not in `%s --help`" %
                  (flag, " ".join([prog] + list(words))))


def find_mount(c, path):
    """The volume mount whose directory holds path, and path inside it."""
    best = None
    for m in c.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/") + "/"
        if path.startswith(mp) and (best is None or
                                    len(mp) > len(best["mountPath"])):
            best = m
    if best is None:
        return None, None
    return best, path[len(best["mountPath"].rstrip("/")) + 1:]


def projected_key(vol_src, rel):
    """The Secret/ConfigMap key a volume shows as file rel, or None."""
    items = vol_src.get("items")
    if items:
        return {i["path"]: i["key"] for i in items}.get(rel)
    return rel


def config_file_settings(t, objs, pod, c, env):
    """[(key, value)] from the container's config file (--config or
    MAILFERRY_CONFIG), which must be a file of a mounted ConfigMap."""
    path = dict(flags_of(c.get("args", []))).get("config") or env.get(
        "MAILFERRY_CONFIG")
    if not path:
        return []
    what = "%s: %s: config file %s" % (t, c["name"], path)
    mount, rel = find_mount(c, path)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    src = vols.get(mount["name"], {}).get("configMap") if mount else None
    if not check(src is not None, what + " is a file of a mounted ConfigMap"):
        return []
    cm = named(objs, "ConfigMap", src["name"])
    key = projected_key(src, rel)
    if not check(cm is not None and key in cm.get("data", {}),
                 what + " is rendered (ConfigMap %s, key %s)" %
                 (src["name"], key)):
        return []
    out, section = [], ""
    for line in cm["data"][key].splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[([\w.-]+)\]", line)
        if m:
            section = m.group(1) + "."
            continue
        k, eq, v = line.partition("=")
        check(bool(eq), what + ": line %r is key = value" % line)
        out.append((section + k.strip(), v.strip()))
    return out


def check_key(what, key, text, prog_words):
    """key (a config key) is one the program reads."""
    if key.startswith("kafka."):
        check(help_has_kafka_passthrough(text), what,
              "kafka.<prop> pass-through not in the help")
    else:
        check(help_has_flag(text, key), what, "--%s is not in `%s --help`" %
              (key, prog_words))


def check_files(t, objs, pod, c, refs):
    """Every file setting (refs: [(how it is named, path)]) is a file of a
    mounted Secret that uid APP_UID can read."""
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for how, value in refs:
        what = "%s: %s: %s=%s" % (t, c["name"], how, value)
        mount, rel = find_mount(c, value)
        if not check(mount is not None, what + " is under a volume mount",
                     "no volume mounted there"):
            continue
        sec = vols.get(mount["name"], {}).get("secret")
        if not check(sec is not None, what + " is in a Secret volume",
                     "volume %s is not a Secret" % mount["name"]):
            continue
        key = projected_key(sec, rel)
        if not check(key is not None, what + " is a file the Secret volume "
                     "projects", "items: %s" % sec.get("items")):
            continue
        check(mount.get("readOnly") is True, what + " (mounted readOnly)")
        mode = sec.get("defaultMode", 0o644)
        fs_group = pod.get("securityContext", {}).get("fsGroup")
        check(mode & 0o004 or (mode & 0o040 and fs_group == APP_UID),
              what + " (readable by uid %d)" % APP_UID,
              "defaultMode %o with fsGroup %s" % (mode, fs_group))
        rendered = named(objs, "Secret", sec["secretName"])
        if rendered is not None:
            check(key in rendered.get("data", {}),
                  "%s: Secret %s has key %s" % (t, sec["secretName"], key))


def file_refs(c, env, conf):
    """[(how, path)] of every *-file setting: args, env, config file."""
    refs = [("--" + f, v) for f, v in flags_of(c.get("args", []))
            if f.endswith("-file") and v]
    refs += [(n, v) for n, v in sorted(env.items())
             if n.startswith("MAILFERRY_") and n.endswith("_FILE") and v]
    refs += [("config " + k, v) for k, v in conf if k.endswith("-file")]
    return refs


def check_args_parse(t, c, prog, words):
    """The program's own parser accepts the args (with --help appended, it
    parses everything, then prints help instead of running)."""
    path = os.path.join(BIN, prog)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAILFERRY_")}
    try:
        p = subprocess.run([path] + c.get("args", []) + ["--help"],
                           capture_output=True, text=True, timeout=15,
                           env=env)
        rc, err = p.returncode, (p.stderr.strip().splitlines() or [""])[0]
    except (OSError, subprocess.TimeoutExpired) as e:
        rc, err = 127, str(e)
    check(rc == 0, "%s: %s: `%s` accepts the args" % (
        t, c["name"], " ".join([prog] + list(words))), err)


def check_security(t, pod, c):
    psc = pod.get("securityContext", {})
    csc = c.get("securityContext", {})
    w = "%s: %s:" % (t, c["name"])

    def eff(k):
        return csc.get(k, psc.get(k))
    check(eff("runAsNonRoot") is True, w + " runAsNonRoot")
    check(eff("runAsUser") == APP_UID, w + " runAsUser %d (the image's user)"
          % APP_UID, "got %s" % eff("runAsUser"))
    check(csc.get("allowPrivilegeEscalation") is False,
          w + " allowPrivilegeEscalation false")
    check(csc.get("readOnlyRootFilesystem") is True,
          w + " readOnlyRootFilesystem true")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"],
          w + " capabilities drop ALL")
    check((eff("seccompProfile") or {}).get("type") == "RuntimeDefault",
          w + " seccompProfile RuntimeDefault")
    tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    check(tmp and "emptyDir" in vols.get(tmp[0]["name"], {}),
          w + " /tmp is an emptyDir (the root filesystem is read-only)")
    res = c.get("resources", {})
    check(all(k in res.get(s, {}) for s in ("requests", "limits")
              for k in ("cpu", "memory")),
          w + " has cpu and memory requests and limits")
    check(pod.get("automountServiceAccountToken") is False or
          pod.get("serviceAccountName"), w + " service account token")


def check_probes(t, c, prog):
    w = "%s: %s:" % (t, c["name"])
    listen = dict(flags_of(c.get("args", []))).get("http-listen")
    if not check(listen is not None, w + " --http-listen is set"):
        return None
    m = re.search(r":(\d+)$", listen)
    if not check(m is not None, w + " --http-listen has a port", listen):
        return None
    port = int(m.group(1))
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    check(port in ports.values(), w + " containerPort %d is the "
          "--http-listen port" % port, "ports %s" % ports)
    for probe, path in (("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet")
        if not check(get is not None, w + " %s is an httpGet" % probe):
            continue
        check(get.get("path") == path, w + " %s path is %s" % (probe, path),
              "got %s" % get.get("path"))
        p = get.get("port")
        p = ports.get(p) if isinstance(p, str) else p
        check(p == port, w + " %s port is the --http-listen port %d" %
              (probe, port), "got %s" % get.get("port"))
        check(Program.binary_has(prog, path),
              w + " %s serves %s (the path is in the binary)" % (prog, path))
    return port


def mailferry_containers(objs):
    """[(deployment, pod spec, container, image key)]."""
    out = []
    for d in by_kind(objs, "Deployment"):
        pod = d["spec"]["template"]["spec"]
        for c in pod["containers"]:
            key = image_name(c["image"])
            if key in IMAGES:
                out.append((d, pod, c, key))
    return out


def check_workload(t, objs):
    conts = mailferry_containers(objs)
    kinds = {k: len(by_kind(objs, k)) for k in (
        "Deployment", "ConfigMap", "Service", "ServiceAccount",
        "PodDisruptionBudget")}
    check(kinds["Deployment"] >= 2 and kinds["ConfigMap"] >= 1 and
          kinds["Service"] >= 1 and kinds["ServiceAccount"] >= 1 and
          kinds["PodDisruptionBudget"] >= 1,
          "%s: kinds present (Deployment x2, ConfigMap, Service, "
          "ServiceAccount, PodDisruptionBudget)" % t, str(kinds))
    worker = named(objs, "Deployment", "mailferry-worker")
    coord = named(objs, "Deployment", "mailferry-coordinator")
    check(worker is not None and coord is not None,
          "%s: worker and coordinator Deployments" % t)
    if not (worker and coord):
        return None
    info = {}
    for d, pod, c, key in conts:
        target, prog = IMAGES[key]
        w = "%s: %s:" % (t, c["name"])
        check("command" not in c, w + " no command override (the image's "
              "ENTRYPOINT is the program)")
        args = c.get("args", [])
        words = [a for a in args if not a.startswith("--")]
        text, why = Program.help(prog, words)
        if not check(text is not None, w + " `%s --help` runs" %
                     " ".join([prog] + words), why):
            continue
        if words:
            top, why = Program.help(prog, [])
            check(top is not None and re.search(
                r"^\s+%s\b" % re.escape(words[0]), top or "", re.M),
                w + " `%s %s` is a command in `%s --help`" %
                (prog, words[0], prog), why)
        check_program_args(t, c, prog, words, text)
        check_args_parse(t, c, prog, words)
        check_program_env(t, objs, c, prog, words, text)
        env = container_env(objs, c)
        conf = config_file_settings(t, objs, pod, c, env)
        for k, v in conf:
            check_key("%s: %s: config file key %s is a real key" %
                      (t, c["name"], k), k, text,
                      " ".join([prog] + words))
        check_files(t, objs, pod, c, file_refs(c, env, conf))
        info.setdefault("conf", {})[d["metadata"]["name"]] = dict(conf)
        check_security(t, pod, c)
        port = check_probes(t, c, prog)
        sa = pod.get("serviceAccountName")
        sao = named(objs, "ServiceAccount", sa) if sa else None
        check(sao is not None and
              sao.get("automountServiceAccountToken") is False,
              w + " ServiceAccount %s exists, token not mounted" % sa)
        info[d["metadata"]["name"]] = (d, pod, c, text, port)

    if "mailferry-worker" in info:
        d, pod, c, text, port = info["mailferry-worker"]
        flags = dict(flags_of(c.get("args", [])))
        env = container_env(objs, c)
        st = flags.get("shutdown-timeout") or env.get(
            "MAILFERRY_SHUTDOWN_TIMEOUT")
        timeout = duration_seconds(st) if st else help_default_seconds(
            text, "shutdown-timeout")
        if timeout is None:
            timeout = 25  # the documented default
        grace = pod.get("terminationGracePeriodSeconds", 30)
        check(grace > timeout, "%s: worker terminationGracePeriodSeconds %s "
              "> --shutdown-timeout %ss" % (t, grace, timeout))
        check(flags.get("slots", "").isdigit(), "%s: worker --slots set" % t)
        sel = d["spec"]["selector"]["matchLabels"]
        pdbs = [p for p in by_kind(objs, "PodDisruptionBudget")
                if p["spec"].get("selector", {}).get("matchLabels") == sel]
        check(len(pdbs) == 1 and pdbs[0]["spec"].get("maxUnavailable") == 1,
              "%s: a PodDisruptionBudget (maxUnavailable 1) selects the "
              "workers" % t)
        info["worker_slots"] = int(flags.get("slots", "0") or 0)
        info["worker_env"] = env
    if "mailferry-coordinator" in info:
        d = info["mailferry-coordinator"][0]
        check(d["spec"].get("replicas") == 1 and
              d["spec"].get("strategy", {}).get("type") == "Recreate",
              "%s: coordinator replicas 1, strategy Recreate" % t)

    # Metrics Services: port http-metrics on the pods' http port.
    for name in ("mailferry-worker", "mailferry-coordinator"):
        if name not in info:
            continue
        d, pod, c, text, port = info[name]
        labels = d["spec"]["template"]["metadata"]["labels"]
        svcs = [s for s in by_kind(objs, "Service")
                if s["spec"].get("selector") and all(
                    labels.get(k) == v
                    for k, v in s["spec"]["selector"].items())]
        ok = False
        for s in svcs:
            ann = s["metadata"].get("annotations", {})
            for p in s["spec"]["ports"]:
                tp = p.get("targetPort", p["port"])
                tp = {q.get("name"): q["containerPort"]
                      for q in c.get("ports", [])}.get(tp, tp)
                if (p.get("name") == "http-metrics" and tp == port and
                        ann.get("prometheus.io/scrape") == "true" and
                        ann.get("prometheus.io/port") == str(port) and
                        ann.get("prometheus.io/path") == "/metrics"):
                    ok = True
        check(ok, "%s: a metrics Service (http-metrics -> %s, prometheus "
              "annotations) selects %s" % (t, port, name))
    return info


def check_keda(t, objs, cm_env, slots):
    sos = by_kind(objs, "ScaledObject")
    if not check(len(sos) == 1, "%s: one ScaledObject" % t):
        return
    so = sos[0]["spec"]
    check(so["scaleTargetRef"].get("name") == "mailferry-worker",
          "%s: ScaledObject scales mailferry-worker" % t)
    check(so.get("minReplicaCount", 0) >= 1,
          "%s: ScaledObject minReplicaCount >= 1 (never scale in-flight "
          "mailboxes to zero)" % t)
    check(so.get("cooldownPeriod", 300) >= 300 and
          so.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
          .get("behavior", {}).get("scaleDown") is not None,
          "%s: ScaledObject scales in slowly (cooldown, scaleDown "
          "behaviour)" % t)
    trig = [x for x in so.get("triggers", []) if x.get("type") == "kafka"]
    if not check(len(trig) == 1, "%s: one kafka trigger" % t):
        return
    md = trig[0]["metadata"]
    check(md.get("consumerGroup") == WORKER_GROUP,
          "%s: trigger group is %s" % (t, WORKER_GROUP))
    check(Program.binary_has("mailferry-worker", WORKER_GROUP),
          "%s: mailferry-worker joins group %s (the name is in the binary)"
          % (t, WORKER_GROUP))
    if cm_env is not None:
        prefix = cm_env.get("MAILFERRY_TOPIC_PREFIX") or "mailferry"
        check(md.get("topic") == prefix + ".jobs",
              "%s: trigger topic is %s.jobs" % (t, prefix),
              "got %s" % md.get("topic"))
        check(md.get("bootstrapServers") == cm_env.get("MAILFERRY_KAFKA"),
              "%s: trigger bootstrapServers match MAILFERRY_KAFKA" % t,
              "%s vs %s" % (md.get("bootstrapServers"),
                            cm_env.get("MAILFERRY_KAFKA")))
        proto = cm_env.get("MAILFERRY_KAFKA_SECURITY_PROTOCOL", "")
        if "SASL" in proto:
            ref = trig[0].get("authenticationRef", {}).get("name")
            check(ref and named(objs, "TriggerAuthentication", ref),
                  "%s: the trigger authenticates (TriggerAuthentication "
                  "%s rendered)" % (t, ref))


def check_base(objs, info):
    check(not by_kind(objs, "Secret"),
          "base: no Secret values (only references)")
    w = named(objs, "Deployment", "mailferry-worker")
    check(w and w["spec"].get("replicas") == 2, "base: 2 workers")
    check(not by_kind(objs, "ScaledObject"),
          "base: KEDA is optional (not in the base)")
    if info and "mailferry-worker" in info:
        c = info["mailferry-worker"][2]
        res = c.get("resources", {})
        check(res.get("requests") == {"cpu": "250m", "memory": "256Mi"} and
              res.get("limits") == {"cpu": "2", "memory": "512Mi"},
              "base: worker requests 250m/256Mi, limits 2/512Mi "
              "(sized from bench/bigfolder)",
              str(res))


def check_dev(objs, info):
    check_oauth_mounts(objs, "dev")
    sts = {s["metadata"]["name"]: s for s in by_kind(objs, "StatefulSet")}
    check("mailferry-kafka" in sts and "mailferry-redis" in sts,
          "dev: StatefulSets for Kafka and Redis", str(sorted(sts)))
    svcs = {s["metadata"]["name"]: s for s in by_kind(objs, "Service")}
    env = (info or {}).get("worker_env", {})
    kafka = env.get("MAILFERRY_KAFKA", "")
    redis = env.get("MAILFERRY_REDIS", "")

    def svc_port(name, port):
        s = svcs.get(name)
        return s is not None and any(p["port"] == port
                                     for p in s["spec"]["ports"])
    m = re.fullmatch(r"([\w.-]+):(\d+)", kafka)
    check(m and svc_port(m.group(1), int(m.group(2))),
          "dev: MAILFERRY_KAFKA %s is the dev Kafka Service" % kafka)
    m = re.fullmatch(r"redis://([\w.-]+):(\d+)", redis)
    check(m and svc_port(m.group(1), int(m.group(2))),
          "dev: MAILFERRY_REDIS %s is the dev Redis Service" % redis)
    if "mailferry-redis" in sts:
        args = sts["mailferry-redis"]["spec"]["template"]["spec"][
            "containers"][0].get("args", [])
        joined = " ".join(args)
        check("--appendonly yes" in joined, "dev: Redis has AOF on")
        check("--maxmemory-policy noeviction" in joined,
              "dev: Redis never evicts (leases, claims, checkpoints)")
    if "mailferry-kafka" in sts:
        kenv = {e["name"]: e.get("value") for e in sts["mailferry-kafka"][
            "spec"]["template"]["spec"]["containers"][0].get("env", [])}
        check(kenv.get("KAFKA_ADVERTISED_LISTENERS", "").endswith(
            "//" + kafka), "dev: Kafka advertises %s" % kafka,
            kenv.get("KAFKA_ADVERTISED_LISTENERS"))
        w = named(objs, "Deployment", "mailferry-worker")
        fleet = (w["spec"].get("replicas", 1) if w else 0) * (
            (info or {}).get("worker_slots", 0))
        check(int(kenv.get("KAFKA_NUM_PARTITIONS", "1")) >= fleet,
              "dev: jobs partitions %s >= worker slots in the fleet %d" %
              (kenv.get("KAFKA_NUM_PARTITIONS"), fleet))
    sec = named(objs, "Secret", "mailferry-master-key")
    ok = False
    if sec:
        text = base64.b64decode(sec["data"].get("master.keys", "")).decode()
        lines = [ln for ln in text.splitlines()
                 if ln.strip() and not ln.startswith("#")]
        ok = bool(lines) and all(
            re.fullmatch(r"[A-Za-z0-9._-]{1,64}:[A-Za-z0-9+/]{43}=", ln)
            for ln in lines) and all(
            b"FAKE" in base64.b64decode(ln.split(":", 1)[1])
            for ln in lines)
    check(ok, "dev: master key Secret is well-formed and obviously fake")


def check_oauth_mounts(objs, overlay):
    """OAuth2 (issue 12, deploy/k8s/components/oauth): the coordinator
    mounts the key files `batch create` seals, every pod the token files
    the workers read at each connection; both Secrets optional, read-only,
    0440; the workers never mount the keys (they come sealed in jobs)."""
    want = {"mailferry-coordinator": {
        "/etc/mailferry/oauth": "mailferry-oauth",
        "/run/secrets/mailferry-oauth": "mailferry-oauth-tokens"},
        "mailferry-worker": {
        "/run/secrets/mailferry-oauth": "mailferry-oauth-tokens"}}
    for name, paths in want.items():
        d = named(objs, "Deployment", name)
        if not check(d is not None, "%s: %s exists" % (overlay, name)):
            continue
        spec = d["spec"]["template"]["spec"]
        mounts = {m["mountPath"]: m for m in
                  spec["containers"][0].get("volumeMounts", [])}
        vols = {v["name"]: v.get("secret", {}) for v in spec.get("volumes", [])}
        got = {path: vols.get(m["name"], {}).get("secretName")
               for path, m in mounts.items()
               if vols.get(m["name"], {}).get("secretName", "").startswith(
                   "mailferry-oauth")}
        ok = got == paths and all(
            mounts[p].get("readOnly") is True and
            vols[mounts[p]["name"]].get("optional") is True and
            vols[mounts[p]["name"]].get("defaultMode") == 0o440
            for p in paths)
        check(ok, "%s: %s mounts the OAuth2 Secrets %s (read-only, "
              "optional, 0440)" % (overlay, name, sorted(got.values())))


def check_production(objs, info):
    check(not by_kind(objs, "Secret"),
          "production: no Secret values (created with kubectl)")
    env = (info or {}).get("worker_env", {})
    check(env.get("MAILFERRY_KAFKA_SECURITY_PROTOCOL") == "SASL_SSL" and
          env.get("MAILFERRY_KAFKA_SASL_MECHANISM") == "SCRAM-SHA-512",
          "production: Kafka over SASL_SSL with SCRAM-SHA-512")
    check(not env.get("MAILFERRY_REDIS", "").startswith("redis://mailferry-")
          and not env.get("MAILFERRY_KAFKA", "").startswith("mailferry-"),
          "production: external Kafka and Redis")
    for name in ("mailferry-worker", "mailferry-coordinator"):
        if info and name in info:
            flags = dict(flags_of(info[name][2].get("args", [])))
            conf = info.get("conf", {}).get(name, {})
            check("kafka.sasl.password-file" in flags or
                  "kafka.sasl.password-file" in conf,
                  "production: %s reads the SASL password from a file" %
                  name)
    # Redis AUTH (issue 17 item 3): an ACL user whose password file is a
    # mounted Secret, in both Deployments.
    redis = env.get("MAILFERRY_REDIS", "")
    pwfile = redis.partition("password-file=")[2].partition("&")[0]
    check(redis.startswith("redis://mailferry@") and pwfile,
          "production: Redis with an ACL user and a password file (%s)"
          % redis)
    for name in ("mailferry-worker", "mailferry-coordinator"):
        d = named(objs, "Deployment", name)
        if not d or not pwfile:
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        mounts = [m for m in c.get("volumeMounts", [])
                  if pwfile.startswith(m["mountPath"].rstrip("/") + "/")]
        vols = {v["name"]: v for v in
                d["spec"]["template"]["spec"].get("volumes", [])}
        check(mounts and mounts[0].get("readOnly") is True and
              vols.get(mounts[0]["name"], {}).get("secret", {}).get(
                  "secretName") == "mailferry-redis-auth",
              "production: %s mounts the Redis password Secret at %s"
              % (name, pwfile))
    check_oauth_mounts(objs, "production")
    w = named(objs, "Deployment", "mailferry-worker")
    tsc = w["spec"]["template"]["spec"].get(
        "topologySpreadConstraints", []) if w else []
    check({x["topologyKey"] for x in tsc} >= {
        "topology.kubernetes.io/zone", "kubernetes.io/hostname"},
        "production: workers spread over zones and nodes")
    check(w and w["spec"].get("replicas", 0) > 2,
          "production: more workers than the base")


# ------------------------------------------------------------------ #
# Dockerfile                                                          #
# ------------------------------------------------------------------ #

def dockerfile_instructions(path):
    """[(INSTRUCTION, rest)] with continuations joined and comments gone."""
    out, cur = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if cur and line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            cur += line
            ins, _, rest = cur.strip().partition(" ")
            out.append((ins.upper(), rest.strip()))
            cur = ""
    return out


def check_dockerfile():
    t = "Dockerfile"
    if not check(os.path.exists(DOCKERFILE), "%s exists" % DOCKERFILE):
        return
    ins = dockerfile_instructions(DOCKERFILE)
    known = {"FROM", "ARG", "ENV", "RUN", "COPY", "ADD", "WORKDIR", "USER",
             "EXPOSE", "ENTRYPOINT", "CMD", "LABEL", "STOPSIGNAL",
             "HEALTHCHECK", "SHELL", "VOLUME", "ONBUILD"}
    bad = [i for i, _ in ins if i not in known]
    check(not bad and ins and ins[0][0] in ("FROM", "ARG"),
          "%s: every line is a known instruction" % t, str(bad))
    args = {}
    stages, cur = {}, None
    for i, rest in ins:
        if i == "ARG" and cur is None:
            k, _, v = rest.partition("=")
            args[k] = v
        elif i == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            img = re.sub(r"\$\{?(\w+)\}?", lambda x: args.get(x.group(1), ""),
                         m.group(1))
            cur = m.group(2) or "stage%d" % len(stages)
            parent = stages.get(img)
            stages[cur] = {
                "from": img, "parent": img if parent else None,
                "ins": [], "user": parent["user"] if parent else None}
        else:
            stages[cur]["ins"].append((i, rest))
            if i == "USER":
                stages[cur]["user"] = rest

    def chain(name):
        while name:
            yield stages[name]
            name = stages[name]["parent"]

    check(len(stages) >= 3 and {"build", "worker", "coordinator"} <= set(
        stages), "%s: multi-stage with build, worker and coordinator "
        "targets" % t, str(list(stages)))
    roots = {s["from"] for s in stages.values() if not s["parent"]}
    check(all(re.fullmatch(r"debian:12(-slim)?|debian:bookworm(-slim)?", r)
              for r in roots), "%s: every base image is Debian 12" % t,
          str(roots))
    leaks = []
    for i, rest in ins:
        if i in ("ENV", "ARG"):
            leaks += ["%s %s" % (i, m.group(1)) for m in re.finditer(
                r"(\w*(?:SECRET|PASSWORD|TOKEN|KEY)\w*)\s*[= ]\s*\S+",
                rest, re.I)]
        if i in ("COPY", "ADD") and re.search(r"\.keys\b|password|secret",
                                              rest, re.I):
            leaks.append("%s %s" % (i, rest))
    check(not leaks, "%s: no ENV/ARG/COPY carries a secret" % t, str(leaks))

    # Build stage: scripts/packages.txt and nothing else.
    build = stages.get("build", {"ins": []})
    runs = [r for i, r in build["ins"] if i == "RUN"]
    copies = [r for i, r in build["ins"] if i == "COPY"]
    check(any("scripts/packages.txt" in c for c in copies) and any(
        "scripts/packages.txt" in r and "xargs" in r and
        "apt-get install" in r for r in runs),
        "%s: build stage installs scripts/packages.txt via xargs" % t)
    with open(os.path.join(SRC, "scripts", "packages.txt")) as f:
        listed = {ln.strip() for ln in f
                  if ln.strip() and not ln.lstrip().startswith("#")}
    for r in runs:
        for m in re.finditer(r"apt-get install([^&;|]*)", r):
            words = [w for w in m.group(1).split() if not w.startswith("-")]
            check(not words, "%s: build stage names no package by hand "
                  "(scripts/packages.txt is the one list)" % t, str(words))
    with open(os.path.join(SRC, "scripts", "setup")) as f:
        check("scripts/packages.txt" in f.read(),
              "scripts/setup reads the same scripts/packages.txt")
    check(any(re.search(r"CMAKE_BUILD_TYPE=Release", r) for r in runs) and
          any("--target mailferry mailferry-worker" in r for r in runs),
          "%s: Release build of mailferry and mailferry-worker" % t)

    # Runtime packages.
    runtime = stages.get("runtime", {"ins": []})
    pkgs = []
    for i, r in runtime["ins"]:
        if i == "RUN":
            for m in re.finditer(r"apt-get install([^&;|]*)", r):
                pkgs += [w for w in m.group(1).split()
                         if not w.startswith("-")]
    check(pkgs and not [p for p in pkgs if p.endswith("-dev")],
          "%s: runtime stage installs only runtime packages" % t, str(pkgs))
    check_runtime_packages(pkgs, listed)

    # Final stages: non-root user, entrypoint is the program copied in.
    for target, prog in (("worker", "mailferry-worker"),
                         ("coordinator", "mailferry")):
        st = stages.get(target)
        if not st:
            continue
        user = st["user"]
        check(user and user.split(":")[0] == str(APP_UID),
              "%s: %s runs as uid %d" % (t, target, APP_UID), str(user))
        allins = [x for s in reversed(list(chain(target))) for x in s["ins"]]
        ep = [r for i, r in allins if i == "ENTRYPOINT"]
        path = "/usr/local/bin/" + prog
        ok = False
        if ep:
            try:
                ok = json.loads(ep[-1]) == [path]
            except ValueError:
                pass
        check(ok, "%s: %s ENTRYPOINT [\"%s\"] (exec form)" %
              (t, target, path), ep[-1] if ep else "none")
        cp = [r for i, r in st["ins"] if i == "COPY"]
        check(any(re.fullmatch(r"--from=build\s+/build/bin/%s\s+%s" %
                               (re.escape(prog), re.escape(path)), c)
                  for c in cp),
              "%s: %s copies only the built %s" % (t, target, prog))
        check(os.access(os.path.join(BIN, prog), os.X_OK),
              "%s: %s is a program the build makes" % (t, prog))
        cmd = [r for i, r in allins if i == "CMD"]
        if target == "coordinator":
            ok = bool(cmd) and json.loads(cmd[-1]) == ["serve"]
            check(ok, "%s: coordinator CMD [\"serve\"]" % t)
            top, why = Program.help("mailferry", [])
            check(top is not None and re.search(r"^\s+serve\b", top, re.M),
                  "%s: `mailferry serve` is a command in `mailferry --help`"
                  % t, why or "not listed")
    ign = DOCKERFILE + ".dockerignore"
    ok = os.path.exists(ign)
    if ok:
        with open(ign) as f:
            lines = {ln.strip() for ln in f}
        ok = ".git" in lines and any(ln.startswith("build") for ln in lines)
    check(ok, "%s.dockerignore keeps .git and build dirs out" % t)


def apt_ok():
    rc, out, _ = run(["apt-cache", "show", "libc6"])
    return rc == 0 and "Package: libc6" in out


def check_runtime_packages(pkgs, listed):
    if not shutil.which("apt-cache") or not apt_ok():
        print("note: apt-cache has no package lists (run apt-get update); "
              "runtime package checks skipped")
        return
    for p in pkgs:
        rc, out, _ = run(["apt-cache", "show", p])
        check(rc == 0 and ("Package: %s\n" % p) in out,
              "runtime package %s exists in Debian 12" % p)
    # Every library the built binaries load directly must come from a
    # runtime package or something it depends on.
    rc, out, _ = run(["apt-cache", "depends", "--recurse", "--no-recommends",
                      "--no-suggests", "--no-conflicts", "--no-breaks",
                      "--no-replaces", "--no-enhances"] + pkgs, timeout=120)
    closure = {ln.strip() for ln in out.splitlines()
               if ln and not ln.startswith(" ") and not ln.startswith("<")}
    closure |= set(pkgs)
    for prog in ("mailferry", "mailferry-worker"):
        path = os.path.join(BIN, prog)
        if not os.access(path, os.X_OK):
            continue  # reported elsewhere
        rc, ldd, _ = run(["ldd", path])
        for m in re.finditer(r"^\s*(\S+) => (/\S+)", ldd, re.M):
            lib, lpath = m.group(1), m.group(2)
            # A sanitizer build (scripts/test's second pass) links the
            # sanitizer runtimes; the image's Release build does not.
            if re.match(r"lib(a|ub|t|l|hwa)san\.so", lib):
                continue
            if not needed_directly(path, lib):
                continue
            owner = dpkg_owner(lpath)
            check(owner is not None and owner in closure,
                  "%s loads %s from a runtime package (%s)" % (
                      prog, lib, owner),
                  "add %s to the runtime stage" % owner)


_needed = {}


def needed_directly(path, lib):
    if path not in _needed:
        rc, out, _ = run(["readelf", "-d", path])
        _needed[path] = set(re.findall(r"\(NEEDED\).*\[(.+)\]", out))
    return lib in _needed[path]


def dpkg_owner(path):
    # Debian 12 is merged-/usr: dpkg may know the file under either name.
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        if p.startswith("/usr/lib/"):
            cands.append(p[4:])
        elif p.startswith("/lib/"):
            cands.append("/usr" + p)
    for p in cands:
        rc, out, _ = run(["dpkg", "-S", p])
        if rc == 0 and out:
            return out.split(":")[0].strip()
    return None


# ------------------------------------------------------------------ #
# docs/operations.md                                                  #
# ------------------------------------------------------------------ #

def check_docs():
    doc = os.path.join(SRC, "docs", "operations.md")
    if not check(os.path.exists(doc), "docs/operations.md exists"):
        return
    with open(os.path.join(SRC, "core", "include", "mailferry", "err.h")) as f:
        table = dict(re.findall(r"XX\((\w+),\s*(\d+),", f.read()))
    with open(doc) as f:
        text = f.read()
    named_codes = re.findall(r"`([A-Z][A-Z0-9_]+)` \((\d+)\)", text)
    check(len(named_codes) >= 8, "docs/operations.md names error codes as "
          "`NAME` (number)", "found %d" % len(named_codes))
    for name, num in sorted(set(named_codes)):
        check(table.get(name) == num, "docs: error %s is %s in err.h" %
              (name, num), "err.h says %s" % table.get(name))
    # Metric names: each must be declared somewhere in the programs'
    # sources (the coordinator's are "mailferry_coordinator_" + a suffix).
    literals = set()
    for top in ("core", "worker", "coordinator"):
        for dirpath, _, files in os.walk(os.path.join(SRC, top)):
            for fn in files:
                if fn.endswith((".c", ".h")):
                    with open(os.path.join(dirpath, fn),
                              errors="replace") as f:
                        literals |= set(re.findall(r'"([a-z_]+)"', f.read()))
    names = sorted(set(re.findall(r"`(mailferry_[a-z0-9_]+)", text)))
    for n in names:
        if n.startswith("mailferry_coordinator_"):
            ok = n in literals or n[len("mailferry_coordinator_"):] in literals
        else:
            ok = n in literals
        check(ok, "docs: metric %s is one the programs declare" % n)


# ------------------------------------------------------------------ #
# Self-test: the checks against programs with the agreed interface    #
# ------------------------------------------------------------------ #

# The CLI agreed for issue 6 (what the real programs must print), used by
# --self-test to prove the manifests and these checks agree with it, and
# that a missing flag is caught.
FAKE_WORKER_FLAGS = [
    "kafka", "redis", "master-key-file", "slots", "worker-id",
    "bind-address", "egress-ip", "topic-prefix", "claim-ttl",
    "shutdown-timeout", "http-listen", "config", "log-format"]
FAKE_SERVE_FLAGS = ["kafka", "redis", "master-key-file", "topic-prefix",
                    "http-listen", "config", "log-format"]


def write_fake(path, usage, flags, extra=""):
    lines = ["usage: %s" % usage, "", "options:"]
    lines += ["  --%-30s x (default 25s)" % f if f == "shutdown-timeout"
              else "  --%-30s x" % f for f in flags]
    lines += ["  --kafka.<prop>=VALUE            any librdkafka property"]
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# /healthz /readyz mailferry-workers\n")
        f.write(extra)
        f.write("cat <<'EOF'\n%sEOF\n" % text)
    os.chmod(path, 0o755)


def self_test():
    import tempfile
    global BIN, passed, failed
    ok = True
    with tempfile.TemporaryDirectory(prefix="mailferry-deploytest.") as d:
        BIN = d
        top = ("case \"$1\" in --help) printf 'usage: mailferry COMMAND\\n"
               "\\ncommands:\\n  serve   the service\\n'; exit 0;; "
               "serve) ;; *) exit 2;; esac\n")
        for case, wflags in (("agreed CLI", FAKE_WORKER_FLAGS),
                             ("worker without --shutdown-timeout",
                              [f for f in FAKE_WORKER_FLAGS
                               if f != "shutdown-timeout"])):
            write_fake(os.path.join(d, "mailferry-worker"),
                       "mailferry-worker --kafka ...", wflags)
            write_fake(os.path.join(d, "mailferry"), "mailferry serve ...",
                       FAKE_SERVE_FLAGS, top)
            Program._cache.clear()
            passed = failed = 0
            print("== self-test: %s" % case)
            kc = kubectl()
            for t in ("base", "dev", "production"):
                objs = render(kc, t, TARGETS[t])
                info = check_workload(t, objs or [])
            print("== %s: %d passed, %d failed" % (case, passed, failed))
            if case == "agreed CLI" and failed:
                print("self-test FAILED: the manifests do not fit the "
                      "agreed CLI")
                ok = False
            if case != "agreed CLI" and failed != 3:
                # Caught once per target (base, dev, production), and
                # nothing else fails.
                print("self-test: expected 3 failures, got %d" % failed)
                ok = False
    passed, failed = (1, 0) if ok else (0, 1)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if ok else 1


def check_static_membership(kc):
    """deploy/k8s/components/static-membership on the base: the workers'
    MAILFERRY_INSTANCE_ID is a real option (check_workload) and comes
    from the pod name, unique per pod."""
    t = "base+static-membership"
    with tempfile.TemporaryDirectory(prefix="mf-deploy-test.") as d:
        with open(os.path.join(d, "kustomization.yaml"), "w") as f:
            f.write("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                    "kind: Kustomization\nresources:\n  - %s\n"
                    "components:\n  - %s\n" % (
                        os.path.relpath(os.path.join(K8S, "base"), d),
                        os.path.relpath(os.path.join(
                            K8S, "components", "static-membership"), d)))
        objs = render(kc, t, d)
    if objs is None:
        return
    check_workload(t, objs)
    worker = named(objs, "Deployment", "mailferry-worker")
    c = worker["spec"]["template"]["spec"]["containers"][0] if worker else {}
    src = [e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
           for e in c.get("env", []) if e["name"] == "MAILFERRY_INSTANCE_ID"]
    check(src == ["metadata.name"],
          "%s: worker MAILFERRY_INSTANCE_ID is the pod name" % t, str(src))


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    print("source %s, programs from %s" % (SRC, BIN))
    kc = kubectl()
    if check(kc is not None, "kubectl is installed (kustomize v5 inside)"):
        rendered = {t: render(kc, t, p) for t, p in TARGETS.items()}
        cm = {}
        for t in ("base", "dev", "production"):
            objs = rendered.get(t)
            if objs is None:
                continue
            info = check_workload(t, objs)
            cm[t] = (info or {}).get("worker_env")
            {"base": check_base, "dev": check_dev,
             "production": check_production}[t](objs, info)
            if t == "production":
                check_keda(t, objs, cm[t], (info or {}).get("worker_slots"))
        if rendered.get("keda") is not None:
            check_keda("keda", rendered["keda"], cm.get("base"), None)
        check_static_membership(kc)
    check_dockerfile()
    check_docs()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
