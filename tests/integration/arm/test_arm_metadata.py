#!/usr/bin/python3
"""The cloud's endpoint metadata on the ARM listener, as Terraform's azurerm
reads it through metadata_host (GET /metadata/endpoints?api-version=
2022-09-01, no token; go-azure-sdk's sdk/internal/metadata shape, whose
name, resourceManager and microsoftGraphResourceId it requires), then the
login it describes: a client-credentials POST to
{loginEndpoint}/{tenant}/oauth2/v2.0/token, and that token on the
resourceManager URL it names. Terraform itself is not run here."""
import http.client
import json
import os
import ssl
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.chdir("/")

from arm_harness import NET, check, finish, start  # noqa: E402

TOKEN_FILE_TEXT = "eyJhbGciOiJub25lIn0.eyJ0ZiI6InByaXZyZXMifQ.c2ln"


def call(port, ca, method, url, body=None, headers=None):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port or port,
                                    context=ssl.create_default_context(cafile=ca), timeout=30)
    c.request(method, u.path + ("?" + u.query if u.query else ""), body=body,
              headers=headers or {})
    r = c.getresponse()
    text = r.read()
    c.close()
    try:
        return r.status, json.loads(text) if text else None
    except ValueError:
        return r.status, None


def main():
    token = os.path.join(os.environ.get("TMPDIR", "/tmp"), "arm-md-token-%d" % os.getpid())
    with open(token, "w") as f:
        f.write(TOKEN_FILE_TEXT + "\n")
    d, port, ca = start(None, "arm-md", ["--arm-token-file", token])
    try:
        host = "localhost:%d" % port  # what metadata_host would be set to
        st, md = call(port, ca, "GET", "https://%s/metadata/endpoints?api-version=2022-09-01"
                      % host)
        check(st == 200 and isinstance(md, dict), "metadata without a token: 200 (%s)" % st)
        base = "https://%s/" % host
        check(md.get("name") == "privres" and md.get("resourceManager") == base and
              md.get("microsoftGraphResourceId") == base,
              "name, resourceManager and microsoftGraphResourceId (required by azurerm)")
        a = md.get("authentication", {})
        check(a.get("loginEndpoint") == base.rstrip("/") and a.get("audiences") == [base] and
              a.get("identityProvider") == "AAD" and isinstance(md.get("suffixes"), dict),
              "authentication{loginEndpoint, audiences, tenant, identityProvider}, suffixes")
        st, e = call(port, ca, "GET", "https://%s/metadata/endpoints" % host)
        check(st == 400 and e["error"]["code"] == "InvalidApiVersionParameter",
              "no api-version: 400 InvalidApiVersionParameter")
        st, e = call(port, ca, "POST", "https://%s/metadata/endpoints?api-version=2022-09-01"
                     % host)
        check(st == 405, "POST: 405 (%s)" % st)
        # the login the metadata describes, as a client-secret login builds it
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "tf",
                                       "client_secret": TOKEN_FILE_TEXT,
                                       "scope": a["audiences"][0] + ".default"})
        login = "%s/%s/oauth2/v2.0/token" % (a["loginEndpoint"],
                                             "00000000-0000-0000-0000-000000000000")
        hd = {"Content-Type": "application/x-www-form-urlencoded"}
        st, tok = call(port, ca, "POST", login, form, hd)
        check(st == 200 and tok.get("access_token") == TOKEN_FILE_TEXT,
              "client-credentials login at {loginEndpoint}/{tenant}/oauth2/v2.0/token")
        bad = form.replace("client_secret=ey", "client_secret=xx")
        st, _ = call(port, ca, "POST", login, bad, hd)
        check(st == 401, "a wrong client secret: 401 (%s)" % st)
        st, lst = call(port, ca, "GET", md["resourceManager"].rstrip("/") + NET +
                       "/dnsResolvers?api-version=2022-07-01",
                       headers={"Authorization": "Bearer " + tok["access_token"]})
        check(st == 200 and lst.get("value"), "the token lists resolvers at resourceManager")
    finally:
        d.stop()
        os.unlink(token)
    finish()


main()
