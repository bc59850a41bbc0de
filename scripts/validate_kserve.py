#!/usr/bin/env python3
"""Validates the Kubernetes objects of deploy/kserve/ (and deploy/k8s.yaml) with real
validators, then checks that they fit the server they deploy.

Schemas:
  - Kubernetes core types: kubernetes-validate (PyPI), which ships the published
    Kubernetes JSON schemas, strict form (no unknown fields).
  - KServe (ClusterServingRuntime, ServingRuntime, InferenceService): no PyPI package
    ships KServe's CRD schemas (the CRDs are only in the kserve GitHub release manifests,
    out of reach of CI), so the schema is derived from the kserve Python SDK's generated
    models (kserve.models.V1beta1* / V1alpha1*, which are generated from the same
    OpenAPI spec as the CRDs): every field with its type, unknown fields refused, the
    fields the SDK requires required; the Kubernetes types they embed (V1Container,
    V1Probe, V1ObjectMeta, ...) resolve to kubernetes-validate's strict definitions.
  Validation is jsonschema (Draft 2020-12).

Fit: the container runs `crossrank serve --model /mnt/models`, probes hit /v2/health/*,
Prometheus scrapes /metrics on the serving port, and the autoscaling query names a gauge
that src/server/metrics.cc really exports.

  scripts/validate_kserve.py [--root .]        exit 0 when every check passes
"""
import argparse
import copy
import inspect
import json
import os
import re
import sys

import jsonschema
import kubernetes_validate
import yaml
import kserve.models as kmodels

K8S_VERSION = None  # newest schema set kubernetes-validate ships


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)
    print("ok:", msg)


def k8s_schema_dir():
    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    strict = [d for d in os.listdir(base) if d.endswith("-local-strict")]

    def key(d):
        return tuple(int(x) for x in re.findall(r"\d+", d.split("-")[0]))

    return os.path.join(base, max(strict, key=key))


def k8s_defs():
    with open(os.path.join(k8s_schema_dir(), "_definitions.json")) as f:
        return json.load(f)["$defs"]


def python_name_index(defs):
    """kubernetes python client class name (V1Container) -> schema definition key."""
    index = {}
    for key in defs:
        parts = key.split(".")
        if len(parts) < 2:
            continue
        version, name = parts[-2], parts[-1]
        if not re.fullmatch(r"v\d+((alpha|beta)\d+)?", version):
            continue
        py = version[0].upper() + version[1:] + name
        # Prefer core/apimachinery definitions when two groups share a name.
        if py not in index or ".core." in key or "apimachinery" in key:
            index[py] = key
    return index


def required_fields(cls):
    """Attributes the SDK model refuses to be None (its client-side validation)."""
    src = inspect.getsource(cls)
    return sorted(set(re.findall(r"Invalid value for `(\w+)`, must not be `None`", src)))


class SchemaBuilder:
    def __init__(self, k8s):
        self.k8s = k8s
        self.index = python_name_index(k8s)
        self.defs = {}

    def type_schema(self, t):
        m = re.fullmatch(r"list\[(.+)\]", t)
        if m:
            return {"type": "array", "items": self.type_schema(m.group(1))}
        m = re.fullmatch(r"dict\((\w+), (.+)\)", t)
        if m:
            return {"type": "object", "additionalProperties": self.type_schema(m.group(2))}
        prim = {"str": {"type": "string"}, "int": {"type": "integer"}, "bool": {"type": "boolean"},
                "float": {"type": "number"}, "object": {}, "datetime": {"type": "string"}, "date": {"type": "string"}}
        if t in prim:
            return prim[t]
        if t in ("V1beta1MetricQuantity", "ResourceQuantity"):  # a resource.Quantity: "64", "500m", 8
            return {"type": ["string", "number"]}
        if hasattr(kmodels, t) and t.startswith(("V1alpha1", "V1beta1")):
            return {"$ref": "#/$defs/kserve." + self.model(t)}
        if t in self.index:
            return {"$ref": "#/$defs/" + self.index[t]}
        # Kubernetes types the kserve SDK names by their full Go path, e.g.
        # K8sIoApiAppsV1DeploymentStrategy, K8sIoApiAutoscalingV2HorizontalPodAutoscalerBehavior.
        m = re.fullmatch(r"K8sIoApi(\w+?)(V\d+(?:alpha\d+|beta\d+)?)(\w+)", t)
        if m:
            key = "io.k8s.api.%s.%s.%s" % (m.group(1).lower(), m.group(2).lower(), m.group(3))
            if key in self.k8s:
                return {"$ref": "#/$defs/" + key}
        # Types the SDK names but does not model (Knative status types, WorkerSpec): only in
        # fields these manifests do not set (status, multi-node workers); left open.
        if t.startswith("Knative") or t.startswith(("V1alpha1", "V1alpha2", "V1beta1")):
            return {"description": f"{t}: not modelled by the kserve SDK"}
        raise SystemExit(f"no schema for SDK type {t}")

    def model(self, name):
        if name in self.defs:
            return name
        self.defs[name] = None  # recursion guard
        cls = getattr(kmodels, name)
        props = {}
        for attr, t in cls.openapi_types.items():
            props[cls.attribute_map[attr]] = self.type_schema(t)
        schema = {"type": "object", "additionalProperties": False, "properties": props}
        req = [cls.attribute_map[a] for a in required_fields(cls) if a in cls.attribute_map]
        if req:
            schema["required"] = req
        self.defs[name] = schema
        return name

    def root(self, name, api_version, kind):
        self.model(name)
        defs = dict(self.k8s)
        defs.update({"kserve." + k: v for k, v in self.defs.items()})
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs,
                  "$ref": "#/$defs/kserve." + name}
        # The objects must name their type exactly.
        top = copy.deepcopy(defs["kserve." + name])
        top["properties"]["apiVersion"] = {"const": api_version}
        top["properties"]["kind"] = {"const": kind}
        top["required"] = sorted(set(top.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
        defs["kserve." + name] = top
        return schema


KSERVE_KINDS = {
    ("serving.kserve.io/v1alpha1", "ClusterServingRuntime"): "V1alpha1ClusterServingRuntime",
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "V1alpha1ServingRuntime",
    ("serving.kserve.io/v1beta1", "InferenceService"): "V1beta1InferenceService",
}


def validate(doc, where, k8s):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in KSERVE_KINDS:
        schema = SchemaBuilder(k8s).root(KSERVE_KINDS[key], *key)
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
        check(not errors, f"{where}: {key[1]} valid against the KServe SDK schema" +
              "".join(f"\n    {'/'.join(map(str, e.path))}: {e.message[:300]}" for e in errors[:10]))
    else:
        version = os.path.basename(k8s_schema_dir()).split("-")[0].lstrip("v")
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            ok, msg = True, ""
        except kubernetes_validate.ValidationError as e:
            ok, msg = False, str(e)[:600]
        check(ok, f"{where}: {key[1]} valid against Kubernetes {version} (strict) {msg}")


def self_test(k8s):
    """The validator must refuse what KServe would: an unknown field, a wrong type."""
    base = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "x"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "crossrank"}, "storageUri": "pvc://m/x"}}}}
    schema = SchemaBuilder(k8s).root("V1beta1InferenceService", "serving.kserve.io/v1beta1", "InferenceService")
    v = jsonschema.Draft202012Validator(schema)
    check(not list(v.iter_errors(base)), "self-test: a minimal InferenceService is valid")
    bad = copy.deepcopy(base)
    bad["spec"]["predictor"]["model"]["storageURI"] = "typo"
    check(list(v.iter_errors(bad)), "self-test: an unknown field (storageURI) is refused")
    bad = copy.deepcopy(base)
    bad["spec"]["predictor"]["minReplicas"] = "one"
    check(list(v.iter_errors(bad)), "self-test: a mistyped field (minReplicas: \"one\") is refused")
    bad = copy.deepcopy(base)
    bad["spec"]["predictor"]["model"]["readinessProbe"] = {"httpGet": {"paht": "/x", "port": 8080}}
    check(list(v.iter_errors(bad)), "self-test: a bad embedded Kubernetes type (Probe.httpGet.paht) is refused")


def exported_metrics(root):
    with open(os.path.join(root, "src/server/metrics.cc")) as f:
        return set(re.findall(r'"(crossrank_[a-z_]+)"', f.read()))


def fit(docs, root):
    runtime = next(d for d in docs if d["kind"] == "ClusterServingRuntime")
    isvc = next(d for d in docs if d["kind"] == "InferenceService")
    c = runtime["spec"]["containers"][0]
    argv = c.get("command", []) + c.get("args", [])
    check(argv[:2] == ["crossrank", "serve"], f"runtime runs crossrank serve ({argv[:2]})")
    joined = " ".join(argv)
    check("--model=/mnt/models" in joined or "--model /mnt/models" in joined, "runtime serves /mnt/models")
    check("--served-model-name={{.Name}}" in joined, "the v2 model name is the InferenceService's ({{.Name}})")
    port = c["ports"][0]["containerPort"]
    check(f"--port={port}" in joined, f"the server listens on the container port {port}")
    check(c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready", "readiness probe on /v2/health/ready")
    check(c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live", "liveness probe on /v2/health/live")
    check(all(p["httpGet"]["port"] == port for p in (c["readinessProbe"], c["livenessProbe"], c["startupProbe"])),
          "probes on the serving port")
    check(runtime["spec"]["protocolVersions"] == ["v2"], "runtime speaks the v2 protocol")
    ann = runtime["spec"]["annotations"]
    check(ann["prometheus.kserve.io/path"] == "/metrics" and ann["prometheus.kserve.io/port"] == str(port),
          "KServe Prometheus annotations point at /metrics on the serving port")
    pa = isvc["spec"]["predictor"]["annotations"]
    check(pa["prometheus.io/scrape"] == "true" and pa["prometheus.io/path"] == "/metrics" and
          pa["prometheus.io/port"] == str(port), "predictor pods carry prometheus.io scrape annotations")
    model = isvc["spec"]["predictor"]["model"]
    check(model["runtime"] == runtime["metadata"]["name"] and
          model["modelFormat"]["name"] in [f["name"] for f in runtime["spec"]["supportedModelFormats"]],
          "the InferenceService selects the runtime and one of its model formats")
    check(model.get("storageUri"), "the InferenceService has a storageUri (-> /mnt/models)")
    queries = [m["external"]["metric"]["query"] for m in isvc["spec"]["predictor"]["autoScaling"]["metrics"]
               if m["type"] == "External"]
    names = set(re.findall(r"crossrank_[a-z_]+", " ".join(queries)))
    check(names and names <= exported_metrics(root) and "crossrank_queue_size" in names,
          f"autoscaling on the queue-depth gauge the server exports ({sorted(names)})")
    check(isvc["metadata"]["annotations"].get("serving.kserve.io/autoscalerClass") == "keda",
          "custom-metric autoscaling uses KServe's KEDA autoscaler class")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = ap.parse_args()
    k8s = k8s_defs()
    self_test(k8s)
    kdocs = []
    for rel in ["deploy/kserve/clusterservingruntime.yaml", "deploy/kserve/inferenceservice.yaml", "deploy/k8s.yaml"]:
        with open(os.path.join(args.root, rel)) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for i, d in enumerate(docs):
            validate(d, f"{rel}[{i}]", k8s)
        if rel.startswith("deploy/kserve/"):
            kdocs += docs
    fit(kdocs, args.root)
    print("all KServe manifest checks passed")


if __name__ == "__main__":
    main()
