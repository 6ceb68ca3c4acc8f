# SPDX-License-Identifier: GPL-3.0-or-later
"""STAND-IN, for tests only: a local imitation of the few Azure endpoints the
opskit Azure playbooks call.  It is not Azure and is never used outside tests.

What it serves (HTTPS on 127.0.0.1, a CA made for the test run):
- cloud metadata discovery (GET /metadata/endpoints), as Azure Stack serves it;
- an OAuth2 token endpoint with OpenID discovery for one service principal
  (client credentials only; a wrong secret is refused);
- Azure Resource Manager, bearer token required: resource groups, template
  deployments (incl. what-if), and a generic resource store (PUT/PATCH/GET/
  DELETE on any resource id) with the behaviour of the few providers used:
  Microsoft.Web serverfarms, sites, slots (site config, app settings,
  slotsswap), Microsoft.App containerApps (revisions, traffic, deactivate),
  Microsoft.Insights autoscalesettings, Microsoft.ServiceBus queues
  (countDetails from the test's control);
- /_standin/*: test control (not Azure): the log of every write, health of
  the apps' hosts (GET /_standin/health/<hostname>), and knobs to make a
  release unhealthy or fill the queue.

State lives in memory.  Every PUT/PATCH/DELETE and every POST action that
changes something is appended to the write log (and printed to stderr).
"""
import argparse
import copy
import datetime
import hashlib
import json
import re
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

try:
    from . import arm_template
except ImportError:  # run as a script
    import arm_template

# POST actions that only read (they are not writes)
READ_ACTIONS = {"whatif", "list", "listkeys", "listsecrets", "listsyncfunctiontriggerstatus",
                "listcustomhostnamesites", "validate", "publishxml"}


def _deep_merge(base, patch):
    for key, val in patch.items():
        if isinstance(val, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], val)
        else:
            base[key] = copy.deepcopy(val)
    return base


def _subset_equal(declared, actual):
    """True when every declared value is present, equal, in actual (what-if)."""
    if isinstance(declared, dict):
        if not isinstance(actual, dict):
            return False
        return all(_subset_equal(v, _get_ci(actual, k)) for k, v in declared.items())
    if isinstance(declared, list):
        return isinstance(actual, list) and len(declared) == len(actual) and \
            all(_subset_equal(d, a) for d, a in zip(declared, actual))
    if isinstance(declared, str) and isinstance(actual, str):
        return declared.lower() == actual.lower() if declared.startswith("/subscriptions/") else declared == actual
    return declared == actual


def _get_ci(d, key):
    if key in d:
        return d[key]
    for k, v in d.items():
        if k.lower() == key.lower():
            return v
    return None


class State(object):
    def __init__(self, subscription, tenant, client_id, client_secret):
        self.lock = threading.RLock()
        self.subscription = subscription
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens = set()
        self.groups = {}          # lower name -> rg dict
        self.resources = {}       # lower id -> resource dict
        self.writes = []
        self.requests = []
        self.control = {"unhealthy": [], "queue_active": 0, "queue_dead_letter": 0}

    # ------------------------------------------------------------ logging
    def log_write(self, method, path, summary=""):
        entry = {"method": method, "path": path, "summary": summary, "time": time.time()}
        self.writes.append(entry)
        sys.stderr.write("azure-standin WRITE %s %s %s\n" % (method, path, summary))

    def get(self, rid):
        return self.resources.get(rid.lower())

    # ----------------------------------------------------------- providers
    def provider_view(self, body, existing=None, store=True):
        """The resource as the provider would hold it after a PUT of body."""
        res = copy.deepcopy(body)
        props = res.setdefault("properties", {})
        props["provisioningState"] = "Succeeded"
        rtype = res.get("type", "").lower()
        name = res["id"].rstrip("/").split("/")[-1]
        if rtype.startswith("microsoft.web/"):
            props["resourceGroup"] = res["id"].split("/")[4]
        if rtype == "microsoft.web/sites":
            props["defaultHostName"] = "%s.azurewebsites.net" % name
            props.setdefault("state", "Running")
            props.setdefault("enabled", True)
            props["reserved"] = "linux" in (res.get("kind") or "").lower() or bool(props.get("reserved"))
            props.setdefault("siteConfig", {})
            self._site_runtime(props)
        elif rtype == "microsoft.web/sites/slots":
            app = res["id"].split("/")[-3]
            props["defaultHostName"] = "%s-%s.azurewebsites.net" % (app, name)
            props.setdefault("state", "Running")
            props.setdefault("enabled", True)
            site = self.get(res["id"].rsplit("/slots/", 1)[0])
            props["reserved"] = bool(site and site["properties"].get("reserved")) or bool(props.get("reserved"))
            props.setdefault("siteConfig", {})
            self._site_runtime(props)
        elif rtype == "microsoft.web/serverfarms":
            sku = res.setdefault("sku", {"name": "P1v3", "tier": "PremiumV3", "capacity": 1})
            sku.setdefault("capacity", 1)
            sku.setdefault("size", sku.get("name"))
            sku.setdefault("family", (sku.get("name") or "P")[0])
            props["numberOfWorkers"] = sku["capacity"]
            props.setdefault("reserved", "linux" in (res.get("kind") or "").lower())
            res["kind"] = res.get("kind") or ("linux" if props["reserved"] else "app")
            props["status"] = "Ready"
        elif rtype == "microsoft.app/managedenvironments":
            props["defaultDomain"] = "%s.%s.azurecontainerapps.io" % (
                hashlib.sha256(res["id"].lower().encode()).hexdigest()[:10], (res.get("location") or "local").replace(" ", ""))
        elif rtype == "microsoft.app/containerapps":
            self._containerapp_revisions(res, existing, store)
        elif rtype == "microsoft.servicebus/namespaces/queues":
            self._queue_counts(res)
        elif rtype == "microsoft.servicebus/namespaces":
            props["serviceBusEndpoint"] = "https://%s.servicebus.windows.net:443/" % name
        elif rtype == "microsoft.operationalinsights/workspaces":
            props["customerId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, res["id"].lower()))
        elif rtype == "microsoft.insights/components":
            props["AppId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, res["id"].lower() + "/app"))
            props["InstrumentationKey"] = str(uuid.uuid5(uuid.NAMESPACE_URL, res["id"].lower() + "/ikey"))
            props["ConnectionString"] = "InstrumentationKey=%s;IngestionEndpoint=https://standin.invalid/" % props["InstrumentationKey"]
        elif rtype == "microsoft.storage/storageaccounts":
            props["primaryEndpoints"] = {"blob": "https://%s.blob.core.windows.net/" % name}
        elif rtype == "microsoft.search/searchservices":
            props.setdefault("status", "running")
        return res

    @staticmethod
    def _site_runtime(props):
        host = props["defaultHostName"]
        props["hostNames"] = [host]
        props["enabledHostNames"] = [host, host.replace(".azurewebsites.net", ".scm.azurewebsites.net")]
        props["hostNameSslStates"] = [{"name": host, "sslState": "Disabled", "hostType": "Standard"}]
        props["availabilityState"] = "Normal"
        props["outboundIpAddresses"] = "192.0.2.10"

    def _env_domain(self, app):
        env_id = app["properties"].get("managedEnvironmentId") or app["properties"].get("environmentId") or ""
        env = self.get(env_id) if env_id else None
        return env["properties"]["defaultDomain"] if env else "standin.local.azurecontainerapps.io"

    def revisions_of(self, app_id):
        prefix = app_id.lower() + "/revisions/"
        return sorted((r for k, r in self.resources.items() if k.startswith(prefix)),
                      key=lambda r: r["properties"]["createdTime"])

    def _containerapp_revisions(self, app, existing, store):
        props = app["properties"]
        conf = props.setdefault("configuration", {})
        conf.setdefault("activeRevisionsMode", "Single")
        template = props.setdefault("template", {})
        domain = self._env_domain(app)
        name = app["id"].split("/")[-1]
        ingress = conf.get("ingress")
        if ingress is not None:
            ingress["fqdn"] = "%s.%s" % (name, domain)
        revisions = self.revisions_of(app["id"]) if existing else []
        latest = revisions[-1] if revisions else None
        tmpl_sig = json.dumps({k: v for k, v in template.items() if k != "revisionSuffix"}, sort_keys=True)
        need_new = latest is None or latest["properties"]["_template_sig"] != tmpl_sig or \
            (template.get("revisionSuffix") and latest["name"] != "%s--%s" % (name, template["revisionSuffix"]))
        if need_new:
            suffix = template.get("revisionSuffix") or hashlib.sha256(
                (tmpl_sig + str(len(revisions))).encode()).hexdigest()[:7]
            rev_name = "%s--%s" % (name, suffix)
            if any(r["name"] == rev_name for r in revisions):
                raise ValueError("revision %s already exists; a new template needs a new revisionSuffix" % rev_name)
            rev = {"id": "%s/revisions/%s" % (app["id"], rev_name), "name": rev_name,
                   "type": "Microsoft.App/containerApps/revisions",
                   "properties": {"createdTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                                  "fqdn": "%s.%s" % (rev_name, domain),
                                  "template": copy.deepcopy(template), "active": True, "replicas": 1,
                                  "healthState": "Healthy", "provisioningState": "Provisioned",
                                  "runningState": "Running", "trafficWeight": 0, "_template_sig": tmpl_sig}}
            revisions.append(rev)
            if store:
                self.resources[rev["id"].lower()] = rev
            if conf["activeRevisionsMode"].lower() == "single":
                for old in revisions[:-1]:
                    old["properties"]["active"] = False
        latest = revisions[-1]
        props["latestRevisionName"] = latest["name"]
        props["latestReadyRevisionName"] = latest["name"]
        props["latestRevisionFqdn"] = latest["properties"]["fqdn"]
        # traffic: resolve latestRevision entries, default 100 % to the latest
        weights = {}
        traffic = (ingress or {}).get("traffic") or [{"latestRevision": True, "weight": 100}]
        if conf["activeRevisionsMode"].lower() == "single":
            traffic = [{"latestRevision": True, "weight": 100}]
        for entry in traffic:
            rev_name = latest["name"] if entry.get("latestRevision") else entry.get("revisionName")
            if not any(r["name"] == rev_name for r in revisions):
                raise ValueError("traffic names revision %s, which does not exist" % rev_name)
            weights[rev_name] = weights.get(rev_name, 0) + int(entry.get("weight", 0))
        if sum(weights.values()) != 100:
            raise ValueError("traffic weights must add up to 100, not %d" % sum(weights.values()))
        if ingress is not None:
            ingress["traffic"] = traffic
        for rev in revisions:
            rev["properties"]["trafficWeight"] = weights.get(rev["name"], 0)
            if store and weights.get(rev["name"], 0) and not rev["properties"]["active"]:
                raise ValueError("revision %s is inactive and cannot take traffic" % rev["name"])

    def _queue_counts(self, res):
        props = res["properties"]
        active, dead = int(self.control["queue_active"]), int(self.control["queue_dead_letter"])
        props["countDetails"] = {"activeMessageCount": active, "deadLetterMessageCount": dead,
                                 "scheduledMessageCount": 0, "transferMessageCount": 0,
                                 "transferDeadLetterMessageCount": 0}
        props["messageCount"] = active + dead
        props.setdefault("status", "Active")

    def put_resource(self, body, merge=False):
        existing = self.get(body["id"])
        if merge and existing:
            merged = _deep_merge(copy.deepcopy(existing), body)
        else:
            merged = copy.deepcopy(body)
            if existing and existing["type"].lower() == "microsoft.app/containerapps":
                pass
        view = self.provider_view(merged, existing=existing)
        self.resources[body["id"].lower()] = view
        return view

    # ------------------------------------------------------------- health
    def serving_image(self, host):
        host = host.lower()
        for res in self.resources.values():
            t = res["type"].lower()
            props = res["properties"]
            if t in ("microsoft.web/sites", "microsoft.web/sites/slots") and \
                    (props.get("defaultHostName") or "").lower() == host:
                kind = "site" if t == "microsoft.web/sites" else "slot"
                cfg = props.get("siteConfig", {})
                settings = dict((x["name"], x["value"]) for x in cfg.get("appSettings") or [])
                # the code a site runs: its package (WEBSITE_RUN_FROM_PACKAGE), else its runtime/image
                return kind, settings.get("WEBSITE_RUN_FROM_PACKAGE") or cfg.get("linuxFxVersion", "")
            if t == "microsoft.app/containerapps/revisions" and props["fqdn"].lower() == host:
                return "revision", props["template"]["containers"][0]["image"]
            if t == "microsoft.app/containerapps":
                ingress = props.get("configuration", {}).get("ingress") or {}
                if (ingress.get("fqdn") or "").lower() == host:
                    revs = [r for r in self.revisions_of(res["id"]) if r["properties"]["trafficWeight"]]
                    best = max(revs, key=lambda r: r["properties"]["trafficWeight"])
                    return "app", best["properties"]["template"]["containers"][0]["image"]
        return None, None

    def health(self, host):
        kind, image = self.serving_image(host)
        if kind is None:
            return 404, {"status": "unknown host", "host": host}
        for rule in self.control["unhealthy"]:
            if rule.get("image_contains", "") in image and rule.get("where", "any") in ("any", kind):
                return 500, {"status": "error", "host": host, "serving": kind, "image": image}
        return 200, {"status": "ok", "host": host, "serving": kind, "image": image}

    # -------------------------------------------------------- deployments
    def deploy(self, rg_name, name, body, preview):
        rg = self.groups.get(rg_name.lower())
        if rg is None:
            raise LookupError("resource group %s not found" % rg_name)
        props = body.get("properties", {})
        template = props.get("template")
        if template is None:
            raise arm_template.TemplateError("the stand-in needs an inline template")
        staged = {}

        def lookup(rid):
            return staged.get(rid.lower()) or self.get(rid)

        def apply(res):
            existing = lookup(res["id"])
            merged = copy.deepcopy(res)
            if existing and res["type"].lower() == "microsoft.app/containerapps":
                merged = _deep_merge(copy.deepcopy(existing), res)
            view = self.provider_view(merged, existing=existing, store=not preview)
            if preview:
                staged[res["id"].lower()] = view
            else:
                self.resources[res["id"].lower()] = view
            return view
        before = {k: copy.deepcopy(v) for k, v in self.resources.items()} if preview else None
        resources, outputs = arm_template.expand(
            template, props.get("parameters") or {}, self.subscription, rg["name"], rg["location"],
            lookup, name, apply)
        if preview:
            changes = []
            for res in resources:
                old = before.get(res["id"].lower())
                declared = {k: res[k] for k in ("properties", "sku", "tags", "kind", "location") if k in res}
                if old is None:
                    change = "Create"
                elif _subset_equal(declared, old):
                    change = "NoChange"
                else:
                    change = "Modify"
                changes.append({"resourceId": res["id"], "changeType": change,
                                "before": old, "after": declared})
            return {"status": "Succeeded", "properties": {"changes": changes}}
        rid = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Resources/deployments/%s" % (
            self.subscription, rg["name"], name)
        dep = {"id": rid, "name": name, "type": "Microsoft.Resources/deployments",
               "properties": {"provisioningState": "Succeeded", "mode": props.get("mode", "Incremental"),
                              "outputs": outputs, "parameters": props.get("parameters") or {},
                              "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "correlationId": str(uuid.uuid4()),
                              "outputResources": [{"id": r["id"]} for r in resources],
                              "dependencies": [], "providers": []}}
        self.resources[rid.lower()] = dep
        return dep


def make_handler(state, base_url):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the write log is what matters
            pass

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            return raw

        def _send(self, code, obj=None, headers=None):
            data = b"" if obj is None else json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if data and self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, code, err_code, message):
            self._send(code, {"error": {"code": err_code, "message": message}})

        def do_GET(self):
            self._dispatch("GET")

        def do_HEAD(self):
            self._dispatch("HEAD")

        def do_PUT(self):
            self._dispatch("PUT")

        def do_PATCH(self):
            self._dispatch("PATCH")

        def do_POST(self):
            self._dispatch("POST")

        def do_DELETE(self):
            self._dispatch("DELETE")

        def _dispatch(self, method):
            url = urlparse(self.path)
            path = url.path.rstrip("/") or "/"
            raw = self._body()
            with state.lock:
                state.requests.append({"method": method, "path": path})
                try:
                    if path.startswith("/_standin/"):
                        return self._control(method, path, raw)
                    if path == "/metadata/endpoints":
                        return self._send(200, self._metadata())
                    if "/oauth2/" in path or "/.well-known/" in path:
                        return self._identity(method, path, raw)
                    if not path.lower().startswith("/subscriptions/"):
                        return self._error(404, "NotFound", "the stand-in does not serve %s" % path)
                    auth = self.headers.get("Authorization", "")
                    if not auth.startswith("Bearer ") or auth[7:] not in state.tokens:
                        return self._error(401, "AuthenticationFailed", "no valid bearer token")
                    body = json.loads(raw) if raw else {}
                    return self._arm(method, path, body)
                except (ValueError, arm_template.TemplateError) as exc:
                    return self._error(400, "InvalidRequest", str(exc))
                except LookupError as exc:
                    return self._error(404, "ResourceNotFound", str(exc))

        # ------------------------------------------------------ identity
        def _metadata(self):
            return [{"name": "OpskitStandin", "resourceManager": base_url + "/",
                     "authentication": {"loginEndpoint": base_url + "/", "audiences": [base_url + "/"],
                                        "tenant": "common", "identityProvider": "AAD"},
                     "portal": base_url + "/portal", "suffixes": {"storage": "core.windows.net"}}]

        def _identity(self, method, path, raw):
            parts = path.strip("/").split("/")
            tenant = parts[0]
            if path.endswith("/.well-known/openid-configuration"):
                issuer = "%s/%s/v2.0" % (base_url, tenant)
                return self._send(200, {"issuer": issuer,
                                        "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (base_url, tenant),
                                        "token_endpoint": "%s/%s/oauth2/v2.0/token" % (base_url, tenant),
                                        "device_authorization_endpoint": "%s/%s/oauth2/v2.0/devicecode" % (base_url, tenant)})
            if path.endswith("/oauth2/v2.0/token") and method == "POST":
                form = parse_qs(raw.decode())
                if tenant != state.tenant or form.get("client_id", [""])[0] != state.client_id or \
                        form.get("client_secret", [""])[0] != state.client_secret:
                    return self._send(401, {"error": "invalid_client",
                                            "error_description": "stand-in: unknown client or wrong secret"})
                token = uuid.uuid4().hex
                state.tokens.add(token)
                return self._send(200, {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                                        "access_token": token})
            return self._error(404, "NotFound", path)

        # ------------------------------------------------------- control
        def _control(self, method, path, raw):
            if path == "/_standin/writes":
                if method == "DELETE":
                    del state.writes[:]
                    return self._send(200, [])
                return self._send(200, state.writes)
            if path == "/_standin/state":
                return self._send(200, {"groups": state.groups, "resources": state.resources})
            if path == "/_standin/control":
                if method == "POST":
                    state.control.update(json.loads(raw))
                return self._send(200, state.control)
            if path.startswith("/_standin/health/"):
                code, body = state.health(path.rsplit("/", 1)[1])
                return self._send(code, body)
            return self._error(404, "NotFound", path)

        # ----------------------------------------------------------- ARM
        def _arm(self, method, path, body):
            parts = path.split("/")
            low = [p.lower() for p in parts]
            sub = parts[2]
            # /subscriptions/{s}/resourcegroups/{rg}
            if len(parts) == 5 and low[3] == "resourcegroups":
                return self._group(method, parts[4], body)
            if len(parts) >= 5 and low[3] == "resourcegroups" and parts[4].lower() not in state.groups:
                return self._error(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % parts[4])
            if len(parts) == 6 and low[5] == "resources" and low[3] == "resourcegroups":
                prefix = "/subscriptions/%s/resourcegroups/%s/providers/" % (sub.lower(), low[4])
                return self._send(200, {"value": [r for k, r in state.resources.items() if k.startswith(prefix)]})
            # deployments
            if "microsoft.resources" in low and "deployments" in low:
                i = low.index("deployments")
                rg, name = parts[4], parts[i + 1]
                rid = "/".join(parts[:i + 2])
                tail = low[i + 2:] if len(low) > i + 2 else []
                if tail == ["whatif"] and method == "POST":
                    return self._send(200, state.deploy(rg, name, body, preview=True))
                if tail == ["operations"]:
                    return self._send(200, {"value": []})
                if tail == ["validate"]:
                    return self._send(200, {"properties": {"provisioningState": "Succeeded"}})
                if method == "PUT" and not tail:
                    state.log_write(method, path, "deployment")
                    return self._send(201, state.deploy(rg, name, body, preview=False))
                return self._generic(method, path, rid, body)
            # Microsoft.Web: site config and app settings of sites and slots
            m = re.match(r"(.*/providers/microsoft\.web/sites/[^/]+(?:/slots/[^/]+)?)/(.*)$", path.lower())
            if m:
                site = state.get(m.group(1))
                if site is None:
                    return self._error(404, "ResourceNotFound", "site %s not found" % m.group(1))
                action = m.group(2)
                cfg = site["properties"].setdefault("siteConfig", {})
                if action == "config/web":
                    if method in ("PUT", "PATCH"):
                        state.log_write(method, path, "site config")
                        if method == "PUT":
                            site["properties"]["siteConfig"] = cfg = dict(body.get("properties", {}),
                                                                          appSettings=cfg.get("appSettings"))
                        else:
                            _deep_merge(cfg, body.get("properties", {}))
                    return self._send(200, {"id": site["id"] + "/config/web", "name": "web",
                                            "type": site["type"] + "/config", "properties": cfg})
                if action == "config/appsettings/list":
                    settings = cfg.get("appSettings") or []
                    if isinstance(settings, list):
                        settings = dict((s["name"], s["value"]) for s in settings)
                    return self._send(200, {"id": site["id"] + "/config/appsettings", "name": "appsettings",
                                            "properties": settings})
                if action == "config/appsettings" and method == "PUT":
                    state.log_write(method, path, "app settings")
                    cfg["appSettings"] = [{"name": k, "value": v} for k, v in body.get("properties", {}).items()]
                    return self._send(200, {"id": site["id"] + "/config/appsettings", "properties": body.get("properties", {})})
                if action == "slotsswap" and method == "POST":
                    state.log_write(method, path, "swap with %s" % body.get("targetSlot"))
                    self._swap(site, body.get("targetSlot") or "production")
                    return self._send(200)
                if action == "publishxml" and method == "POST":
                    # a read: the publishing profile (stand-in credentials)
                    xml = ('<publishData><publishProfile profileName="%s - Web Deploy" publishMethod="MSDeploy" '
                           'publishUrl="standin.invalid:443" userName="standin" userPWD="standin-not-a-secret"/>'
                           '<publishProfile profileName="%s - FTP" publishMethod="FTP" '
                           'publishUrl="ftps://standin.invalid/site/wwwroot" userName="standin" '
                           'userPWD="standin-not-a-secret"/></publishData>' % (site["name"], site["name"])).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(xml)))
                    self.end_headers()
                    self.wfile.write(xml)
                    return None
                if action in ("restart", "start", "stop") and method == "POST":
                    state.log_write(method, path, action)
                    site["properties"]["state"] = "Stopped" if action == "stop" else "Running"
                    return self._send(200)
                if action == "slots" and method == "GET":
                    prefix = site["id"].lower() + "/slots/"
                    return self._send(200, {"value": [r for k, r in state.resources.items()
                                                      if k.startswith(prefix) and k.count("/") == prefix.count("/")]})
            # Microsoft.App: revisions
            m = re.match(r"(.*/providers/microsoft\.app/containerapps/[^/]+)/revisions(?:/([^/]+))?(?:/(\w+))?$", path.lower())
            if m:
                app = state.get(m.group(1))
                if app is None:
                    return self._error(404, "ResourceNotFound", "container app %s not found" % m.group(1))
                revs = state.revisions_of(app["id"])
                if m.group(2) is None:
                    return self._send(200, {"value": [self._public(r) for r in revs]})
                rev = next((r for r in revs if r["name"].lower() == m.group(2)), None)
                if rev is None:
                    return self._error(404, "ContainerAppRevisionNotFound", m.group(2))
                if m.group(3) in ("deactivate", "activate", "restart") and method == "POST":
                    state.log_write(method, path, m.group(3))
                    if m.group(3) == "deactivate" and rev["properties"]["trafficWeight"]:
                        return self._error(400, "RevisionTakesTraffic", "revision %s still takes traffic" % rev["name"])
                    rev["properties"]["active"] = m.group(3) != "deactivate"
                    return self._send(200)
                return self._send(200, self._public(rev))
            rid = path
            return self._generic(method, path, rid, body)

        @staticmethod
        def _public(res):
            out = copy.deepcopy(res)
            out.get("properties", {}).pop("_template_sig", None)
            return out

        def _swap(self, source, target):
            site_id = source["id"].rsplit("/slots/", 1)[0]
            other = state.get(site_id) if target.lower() == "production" else state.get(site_id + "/slots/" + target)
            if other is None:
                raise LookupError("swap target %s not found" % target)
            if other is source:
                raise ValueError("cannot swap %s with itself" % target)
            a, b = source["properties"], other["properties"]
            # the code (linuxFxVersion) and non-sticky settings move; host names stay
            a["siteConfig"], b["siteConfig"] = b.get("siteConfig", {}), a.get("siteConfig", {})

        def _group(self, method, name, body):
            key = name.lower()
            rid = "/subscriptions/%s/resourceGroups/%s" % (state.subscription, name)
            if method in ("GET", "HEAD"):
                if key not in state.groups:
                    if method == "HEAD":
                        return self._send(404)
                    return self._error(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % name)
                return self._send(204 if method == "HEAD" else 200, None if method == "HEAD" else state.groups[key])
            if method in ("PUT", "PATCH"):
                existed = key in state.groups
                rg = state.groups.get(key) or {"id": rid, "name": name, "type": "Microsoft.Resources/resourceGroups"}
                if method == "PUT":
                    rg.update(location=body.get("location", rg.get("location")), tags=body.get("tags") or {})
                else:
                    _deep_merge(rg, body)
                rg["properties"] = {"provisioningState": "Succeeded"}
                state.groups[key] = rg
                state.log_write(method, "/subscriptions/%s/resourcegroups/%s" % (state.subscription, name), "resource group")
                return self._send(200 if existed else 201, rg)
            if method == "DELETE":
                state.log_write(method, rid, "resource group")
                state.groups.pop(key, None)
                return self._send(200)
            return self._error(405, "MethodNotAllowed", method)

        def _generic(self, method, path, rid, body):
            if method in ("GET", "HEAD"):
                res = state.get(rid)
                if res is None:
                    # a list of children: .../providers/ns/type
                    prefix = rid.lower() + "/"
                    kids = [self._public(r) for k, r in state.resources.items()
                            if k.startswith(prefix) and "/" not in k[len(prefix):]]
                    if kids or rid.count("/") % 2 == 1:
                        return self._send(200, {"value": kids})
                    return self._error(404, "ResourceNotFound", "The Resource '%s' was not found." % rid)
                if res["type"].lower() == "microsoft.servicebus/namespaces/queues":
                    state._queue_counts(res)
                return self._send(200, self._public(res))
            if method in ("PUT", "PATCH"):
                state.log_write(method, path, body.get("type") or "")
                name = rid.split("/")[-1]
                parts = rid.split("/")
                pi = [p.lower() for p in parts].index("providers")
                rtype = "/".join([parts[pi + 1]] + parts[pi + 2::2])
                full = dict(body, id=rid, name=name, type=rtype)
                existed = state.get(rid) is not None
                res = state.put_resource(full, merge=(method == "PATCH"))
                return self._send(200 if existed or method == "PATCH" else 201, self._public(res))
            if method == "DELETE":
                state.log_write(method, path)
                state.resources.pop(rid.lower(), None)
                return self._send(200)
            if method == "POST":
                action = path.rsplit("/", 1)[1].lower()
                if action in READ_ACTIONS:
                    return self._send(200, {})
                state.log_write(method, path, action)
                return self._error(400, "NotSupported", "the stand-in does not implement the action %s" % action)
            return self._error(405, "MethodNotAllowed", method)

    return Handler


class StandIn(object):
    """Run the stand-in in a thread (tests) or in the foreground (CLI)."""

    def __init__(self, certfile, keyfile, port=0, subscription="00000000-0000-0000-0000-0000000000aa",
                 tenant="opskit-standin-tenant", client_id="opskit-standin-client", client_secret="standin-secret"):
        self.state = State(subscription, tenant, client_id, client_secret)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), None)
        self.port = self.httpd.server_address[1]
        self.base_url = "https://127.0.0.1:%d" % self.port
        self.httpd.RequestHandlerClass = make_handler(self.state, self.base_url)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def main():
    ap = argparse.ArgumentParser(description="STAND-IN for a few Azure endpoints (tests only)")
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    standin = StandIn(args.cert, args.key, args.port)
    print("azure stand-in on %s" % standin.base_url, flush=True)
    standin.httpd.serve_forever()


if __name__ == "__main__":
    main()
