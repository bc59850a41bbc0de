#!/usr/bin/env python3
"""A loopback stand-in for the Hugging Face Hub's file API (tests only; stdlib only).

Serves every folder ROOT/ORG/NAME/ as the model repository ORG/NAME at one commit (a
sha1 of its files), reachable as revision "main", as that commit id, and as the tags of
its optional .fakehub.json ({"gated": true, "token": "hf_x", "tags": ["v1"]}).

  GET  /api/models/ORG/NAME[/revision/REV]      repo info: sha, siblings (huggingface_hub repo_info)
  GET  /api/models/ORG/NAME/tree/REV[/PATH]     file listing (list_repo_tree; ?recursive=)
  HEAD|GET /ORG/NAME/resolve/REV/FILE           the file: X-Repo-Commit, ETag (git blob id);
                                                LFS files (*.safetensors, *.bin, *.model, ...)
                                                302 to /lfs-cdn/SHA256 with X-Linked-Etag/-Size
  HEAD|GET /lfs-cdn/SHA256                      LFS bodies, on a second port (another origin,
                                                no auth, like a signed CDN URL)

Errors carry the Hub's X-Error-Code: RepoNotFound (401 without a token, 404 with one),
RevisionNotFound, EntryNotFound, GatedRepo (401 without a token, 403 with a wrong one).
Bodies honour Range (206, 416). Fault injection for resume tests:
  --drop FILE:BYTES[:COUNT]  the first COUNT GETs of FILE send BYTES of body, then close
  --stall FILE:BYTES         every GET of FILE sends BYTES, then stalls until the client leaves
  --fail FILE:STATUS[:COUNT] the first COUNT GETs of FILE answer STATUS (e.g. 503)
Usage: fake_hub.py --root DIR [--port 0] [--port-file F] [--log requests.jsonl]
"""
import argparse
import hashlib
import json
import os
import select
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".bin", ".model", ".onnx", ".gguf", ".h5", ".msgpack", ".pt", ".pth", ".ckpt")
LFS_MIN_SIZE = 10 << 20


class Repo:
    """One repository folder: its files with git blob ids, LFS sha256s, and commit id."""

    def __init__(self, repo_id, folder):
        self.id = repo_id
        self.folder = folder
        meta_path = os.path.join(folder, ".fakehub.json")
        self.meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
        self.files = {}  # path -> dict(size, oid, sha256 or None)
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if f.startswith("."):
                    continue
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, folder).replace(os.sep, "/")
                data = open(full, "rb").read()
                oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                lfs = rel.endswith(LFS_SUFFIXES) or len(data) >= LFS_MIN_SIZE
                self.files[rel] = {"size": len(data), "oid": oid,
                                   "sha256": hashlib.sha256(data).hexdigest() if lfs else None, "full": full}
        tree = "".join(f"{p}\0{i['oid']}\n" for p, i in sorted(self.files.items()))
        self.commit = hashlib.sha1(("commit " + repo_id + "\n" + tree).encode()).hexdigest()

    def resolves(self, rev):
        return rev in ("main", self.commit) or rev in self.meta.get("tags", [])


class Hub:
    def __init__(self, root):
        self.repos = {}
        self.by_sha = {}
        for org in sorted(os.listdir(root)):
            if not os.path.isdir(os.path.join(root, org)):
                continue
            for name in sorted(os.listdir(os.path.join(root, org))):
                folder = os.path.join(root, org, name)
                if os.path.isdir(folder):
                    r = Repo(f"{org}/{name}", folder)
                    self.repos[r.id] = r
                    for info in r.files.values():
                        if info["sha256"]:
                            self.by_sha[info["sha256"]] = info


class Faults:
    def __init__(self, drops, stalls, fails=()):
        self.lock = threading.Lock()
        self.fails = {}  # file -> [status, remaining count]
        for f in fails:
            parts = f.split(":")
            self.fails[parts[0]] = [int(parts[1]), int(parts[2]) if len(parts) > 2 else 1]
        self.drops = {}  # file -> [bytes, remaining count]
        for d in drops:
            parts = d.rsplit(":", 2) if d.count(":") >= 2 else d.rsplit(":", 1)
            self.drops[parts[0]] = [int(parts[1]), int(parts[2]) if len(parts) > 2 else 1]
        self.stalls = {s.rsplit(":", 1)[0]: int(s.rsplit(":", 1)[1]) for s in stalls}

    def fail(self, path):
        """An injected error status for a GET of repo file `path`, or None."""
        with self.lock:
            for key in (path, path.rsplit("/", 1)[-1]):
                f = self.fails.get(key)
                if f and f[1] > 0:
                    f[1] -= 1
                    return f[0]
        return None

    def cut(self, path):
        """(bytes, 'drop'|'stall') for a GET of repo file `path`, or None."""
        name = path.rsplit("/", 1)[-1]
        with self.lock:
            for key in (path, name):
                if key in self.stalls:
                    return self.stalls[key], "stall"
                d = self.drops.get(key)
                if d and d[1] > 0:
                    d[1] -= 1
                    return d[0], "drop"
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-hub/1"

    def log_message(self, fmt, *args):  # quiet; requests go to --log
        pass

    # ---------------------------------------------------------------- helpers
    def record(self, status):
        log = self.server.log_path
        if not log:
            return
        line = json.dumps({"method": self.command, "path": self.path, "status": status,
                           "range": self.headers.get("Range"), "auth": bool(self.headers.get("Authorization"))})
        with self.server.log_lock, open(log, "a") as f:
            f.write(line + "\n")

    def send(self, status, body=b"", headers=None, ctype="application/json"):
        self.record(status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, extra=None):
        h = {"X-Error-Code": code, "X-Error-Message": message}
        h.update(extra or {})
        self.send(status, json.dumps({"error": message}).encode(), h)

    def token(self):
        a = self.headers.get("Authorization", "")
        return a[7:] if a.startswith("Bearer ") else None

    def find_repo(self, repo_id):
        """The repo, or None after sending the Hub's answer for an unknown one."""
        repo = self.server.hub.repos.get(repo_id)
        if repo is None:
            status = 404 if self.token() else 401
            self.error(status, "RepoNotFound", "Repository not found")
        return repo

    def gate(self, repo):
        """False after sending 401/403 when the repo is gated and the token does not match."""
        if not repo.meta.get("gated"):
            return True
        tok = self.token()
        if tok == repo.meta.get("token"):
            return True
        if tok is None:
            self.error(401, "GatedRepo", f"Access to model {repo.id} is restricted. You must have access to it "
                                         "and be authenticated to access it. Please log in.")
        else:
            self.error(403, "GatedRepo", f"Access to model {repo.id} is restricted and you are not in the "
                                         "authorized list. Visit the repo page to ask for access.")
        return False

    def body(self, info, headers, cut_key=None):
        """Sends a file's bytes with Range support and the configured faults."""
        injected = self.server.faults.fail(cut_key) if cut_key and self.command == "GET" else None
        if injected:
            return self.send(injected, b'{"error": "injected failure"}')
        size = info["size"]
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else 0
            end = min(int(b), size - 1) if b else size - 1
            if start >= size:
                return self.send(416, b"", dict(headers, **{"Content-Range": f"bytes */{size}"}))
            status = 206
            headers = dict(headers, **{"Content-Range": f"bytes {start}-{end}/{size}"})
        length = max(0, end - start + 1)
        self.record(status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(info["full"], "rb") as f:
            f.seek(start)
            data = f.read(length)
        fault = self.server.faults.cut(cut_key) if cut_key and self.command == "GET" else None
        if fault is None:
            self.wfile.write(data)
            return
        n, kind = fault
        self.wfile.write(data[:n])
        self.wfile.flush()
        if kind == "stall":
            deadline = time.time() + 120
            while time.time() < deadline:  # until the client closes its end
                ready, _, _ = select.select([self.connection], [], [], 0.1)
                try:
                    if ready and not self.connection.recv(1, socket.MSG_PEEK):
                        break
                except OSError:
                    break
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    # ---------------------------------------------------------------- routes
    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        query = urllib.parse.parse_qs(url.query)
        try:
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                return self.api(parts[2] + "/" + parts[3], parts[4:], query)
            if parts[0] == "lfs-cdn" and len(parts) == 2:
                info = self.server.hub.by_sha.get(parts[1])
                if info is None:
                    return self.error(404, "EntryNotFound", "no such LFS object")
                return self.body(info, {"ETag": f'"{parts[1]}"'}, cut_key=info["full"].split(os.sep)[-1])
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve(parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:]))
            self.error(404, "NotFound", "no such route")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def api(self, repo_id, rest, query):
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        if not rest or rest[0] == "revision":
            rev = "/".join(rest[1:]) if rest else "main"
            if not repo.resolves(rev):
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            blobs = query.get("blobs", ["false"])[0].lower() == "true"
            sib = []
            for p, i in repo.files.items():
                s = {"rfilename": p}
                if blobs:
                    s.update(size=i["size"], blobId=i["oid"])
                    if i["sha256"]:
                        s["lfs"] = {"sha256": i["sha256"], "size": i["size"], "pointerSize": 134}
                sib.append(s)
            gated = repo.meta.get("gated")
            info = {"_id": repo.commit[:24], "id": repo.id, "modelId": repo.id, "author": repo.id.split("/")[0],
                    "sha": repo.commit, "lastModified": "2026-01-01T00:00:00.000Z", "private": False,
                    "disabled": False, "gated": "manual" if gated else False, "downloads": 0, "likes": 0,
                    "tags": ["safetensors"], "library_name": "transformers", "pipeline_tag": "text-classification",
                    "siblings": sib, "createdAt": "2026-01-01T00:00:00.000Z"}
            return self.send(200, json.dumps(info).encode())
        if rest[0] == "tree" and len(rest) >= 2:
            rev = rest[1]
            if not repo.resolves(rev):
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            prefix = "/".join(rest[2:])
            recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
            out, dirs = [], set()
            for p, i in sorted(repo.files.items()):
                if prefix and not p.startswith(prefix + "/"):
                    continue
                sub = p[len(prefix) + 1:] if prefix else p
                if "/" in sub:
                    d = (prefix + "/" if prefix else "") + sub.split("/")[0]
                    if d not in dirs:
                        dirs.add(d)
                        out.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": d})
                    if not recursive:
                        continue
                e = {"type": "file", "oid": i["oid"], "size": i["size"], "path": p}
                if i["sha256"]:
                    e["lfs"] = {"oid": i["sha256"], "size": i["size"], "pointerSize": 134}
                out.append(e)
            return self.send(200, json.dumps(out).encode())
        self.error(404, "NotFound", "no such route")

    def resolve(self, repo_id, rev, path):
        repo = self.find_repo(repo_id)
        if repo is None or not self.gate(repo):
            return
        if not repo.resolves(rev):
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        info = repo.files.get(path)
        if info is None:
            return self.error(404, "EntryNotFound", f"{path} does not exist on \"{rev}\"",
                              {"X-Repo-Commit": repo.commit})
        h = {"X-Repo-Commit": repo.commit}
        if info["sha256"]:
            host = f"127.0.0.1:{self.server.cdn_port}"  # another origin, as a CDN is
            h.update({"X-Linked-Etag": f'"{info["sha256"]}"', "X-Linked-Size": str(info["size"]),
                      "ETag": f'"{info["oid"]}"',
                      "Location": f"http://{host}/lfs-cdn/{info['sha256']}?name={urllib.parse.quote(path)}"})
            return self.send(302, b"", h, ctype="text/plain")
        h["ETag"] = f'"{info["oid"]}"'
        return self.body(info, h, cut_key=path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="folder of ORG/NAME repositories")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--log", help="append one JSON line per request")
    ap.add_argument("--drop", action="append", default=[], metavar="FILE:BYTES[:COUNT]")
    ap.add_argument("--stall", action="append", default=[], metavar="FILE:BYTES")
    ap.add_argument("--fail", action="append", default=[], metavar="FILE:STATUS[:COUNT]")
    a = ap.parse_args()
    hub, faults, log_lock = Hub(a.root), Faults(a.drop, a.stall, a.fail), threading.Lock()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    cdn = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # LFS bodies on a second origin
    for s in (srv, cdn):
        s.daemon_threads = True
        s.hub, s.faults, s.log_path, s.log_lock = hub, faults, a.log, log_lock
        s.cdn_port = cdn.server_address[1]
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, a.port_file)
    print(f"fake hub on http://127.0.0.1:{port} ({len(srv.hub.repos)} repos)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
