"""GitHub REST API JSON (``api.github.com``) -> ParsedPage.

Recognised shapes (checked in this order, on dicts):

* repository (``full_name``, or legacy ``name`` + ``owner`` + a clone/html URL)
  -> ``kind="api_repo"``;
* file content with ``encoding: base64`` (README / contents API) -> ``api_readme`` or
  ``api_file``, decoded text in ``text`` and ``fields["readme"]``;
* issue / pull request (``number`` + ``title``) -> ``api_issue``;
* user / organisation (``login`` + ``type``) -> ``api_user``;
* a list of records, or a search/legacy wrapper holding one (``items``,
  ``repositories``, ``users``, ``issues``) -> ``api_list`` with per-item summaries;
* anything else -> ``api_other`` with ``fields={"keys": [...]}`` and a compact JSON
  rendering as text.

API records are judged as ``structured`` (exempt from ``near_empty``): their value
is in the fields. HTTP errors (``{"message": "Not Found"}``) stay ``http_<status>``.
Links: every ``html_url`` (article/navigation on github.com) and ``*_url`` / ``url``
(``api``) in the payload, URI templates (``{/number}``) stripped, capped per page.

As crawl roots, lists lead somewhere: the items of ``/search/repositories``,
``/search/users``, ``/search/issues``, ``/orgs/<o>/repos`` and ``/users/<u>/repos``
carry an ``html_url`` on github.com (a repository, profile or issue), which is an
``article`` link; ``/search/code`` items link their repository and owner. Topic
search results (``/search/topics``) carry no URL, so each item's topic page
(``github.com/topics/<name>``, a listing root) is added as an ``article`` link.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from crawl.adapters.common import LinkSet, canon, collapse, compact_json, error_detail, finish, url_parts
from crawl.adapters.github_links import classify_github_url
from crawl.drop_reasons import PARSE_ERROR
from crawl.page import LinkKind, ParsedPage

SOURCE = "github"
MAX_LINKS = 2_000
MAX_TEXT = 20_000
LIST_KEYS = ("items", "repositories", "users", "issues")
_URI_TEMPLATE = re.compile(r"\{[^}]*\}")


def _is_repo(d: dict[str, Any]) -> bool:
    if "full_name" in d and isinstance(d.get("name"), str):
        return True
    return (
        isinstance(d.get("name"), str)
        and "owner" in d
        and any(k in d for k in ("clone_url", "svn_url", "html_url", "git_url", "url"))
        and any(k in d for k in ("watchers", "stargazers_count", "forks", "forks_count"))
    )


def _is_file(d: dict[str, Any]) -> bool:
    return isinstance(d.get("content"), str) and str(d.get("encoding", "")).lower() == "base64"


def _is_issue(d: dict[str, Any]) -> bool:
    return isinstance(d.get("number"), int) and isinstance(d.get("title"), str)


def _is_user(d: dict[str, Any]) -> bool:
    return isinstance(d.get("login"), str) and "type" in d


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _owner(d: dict[str, Any]) -> str:
    owner = d.get("owner")
    if isinstance(owner, dict):
        return _str(owner.get("login"))
    return _str(owner)


def repo_fields(d: dict[str, Any]) -> dict[str, Any]:
    """Normalised repository facts (``stars`` always an int)."""
    owner = _owner(d)
    name = _str(d.get("name"))
    full_name = _str(d.get("full_name")) or (f"{owner}/{name}" if owner and name else name)
    lic = d.get("license")
    license_name = ""
    if isinstance(lic, dict):
        spdx = _str(lic.get("spdx_id"))
        license_name = spdx if spdx and spdx != "NOASSERTION" else _str(lic.get("name")) or spdx
    elif isinstance(lic, str):
        license_name = lic
    stars = d.get("stargazers_count", d.get("watchers_count", d.get("watchers", 0)))
    topics = d.get("topics")
    return {
        "full_name": full_name,
        "name": name,
        "description": _str(d.get("description")),
        "stars": _int(stars),
        "forks": _int(d.get("forks_count", d.get("forks", 0))),
        "language": _str(d.get("language")),
        "topics": [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else [],
        "license": license_name,
        "owner": owner,
        "html_url": _str(d.get("html_url")) or (f"https://github.com/{full_name}" if "/" in full_name else ""),
        "created_at": _str(d.get("created_at")),
        "updated_at": _str(d.get("updated_at")),
        "fork": bool(d.get("fork", False)),
        "homepage": _str(d.get("homepage")),
    }


def user_fields(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "login": _str(d.get("login")),
        "type": _str(d.get("type")),
        "name": _str(d.get("name")),
        "company": _str(d.get("company")),
        "blog": _str(d.get("blog")),
        "location": _str(d.get("location")),
        "bio": _str(d.get("bio")),
        "public_repos": _int(d.get("public_repos")),
        "followers": _int(d.get("followers")),
        "following": _int(d.get("following")),
        "html_url": _str(d.get("html_url")),
        "created_at": _str(d.get("created_at")),
    }


def issue_fields(d: dict[str, Any]) -> dict[str, Any]:
    user = d.get("user")
    labels = d.get("labels")
    return {
        "number": d.get("number"),
        "title": _str(d.get("title")),
        "state": _str(d.get("state")),
        "is_pull_request": "pull_request" in d or "/pull/" in _str(d.get("html_url")) or "merged" in d,
        "user": _str(user.get("login")) if isinstance(user, dict) else "",
        "labels": [_str(lb.get("name")) for lb in labels if isinstance(lb, dict)] if isinstance(labels, list) else [],
        "comments": _int(d.get("comments")),
        "body": _str(d.get("body")),
        "html_url": _str(d.get("html_url")),
        "created_at": _str(d.get("created_at")),
        "closed_at": _str(d.get("closed_at")),
    }


def decode_base64_text(content: str) -> str:
    """Decode a (line-wrapped) base64 payload to text; undecodable bytes become U+FFFD."""
    try:
        raw = base64.b64decode("".join(content.split()), validate=False)
    except (binascii.Error, ValueError):
        return ""
    return raw.decode("utf-8", errors="replace")


def _summary(item: Any) -> dict[str, Any]:
    """One-line-ish summary of a list element, tagged with its detected type."""
    if not isinstance(item, dict):
        return {"type": "value", "value": item if isinstance(item, (str, int, float, bool)) or item is None else str(item)[:200]}
    if _is_repo(item):
        f = repo_fields(item)
        return {"type": "repo", **{k: f[k] for k in ("full_name", "description", "stars", "language", "html_url")}}
    if _is_issue(item):
        f = issue_fields(item)
        kind = "pull_request" if f["is_pull_request"] else "issue"
        return {"type": kind, **{k: f[k] for k in ("number", "title", "state", "user", "html_url")}}
    if _is_user(item):
        return {"type": "user", "login": item["login"], "user_type": _str(item.get("type")), "html_url": _str(item.get("html_url"))}
    out: dict[str, Any] = {"type": "other"}
    for key in ("id", "name", "title", "path", "sha", "html_url", "url", "state", "created_at"):
        value = item.get(key)
        if isinstance(value, (str, int, float, bool)):
            out[key] = value
    return out


def _summary_line(s: dict[str, Any]) -> str:
    t = s.get("type")
    if t == "repo":
        desc = f": {s['description']}" if s.get("description") else ""
        return f"- {s['full_name']} ({s['stars']} stars){desc}"
    if t in ("issue", "pull_request"):
        return f"- #{s['number']} {s['title']} [{s['state']}]"
    if t == "user":
        return f"- {s['login']} ({s['user_type']})"
    if t == "value":
        return f"- {s['value']}"
    label = s.get("name") or s.get("title") or s.get("path") or s.get("sha") or s.get("id") or ""
    return f"- {label}" if label != "" else "- (record)"


def _collect_links(data: Any, page_url: str, links: LinkSet) -> None:
    """Add the payload's links, walking it iteratively.

    ``html_url`` (the web page of a record) and ``url`` (its API self link) are taken
    at every depth; the many other ``*_url`` API templates (``followers_url``,
    ``gists_url`` ...) only from the top-level record, since per-item copies are
    noise and canonicalising thousands of them dominated parse time.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    budget = MAX_LINKS
    while stack and budget > 0:
        node, depth = stack.pop()
        if isinstance(node, list):
            stack.extend((item, depth + 1) for item in reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        pending: list[tuple[Any, int]] = []
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                pending.append((value, depth + 1))
                continue
            if not isinstance(value, str) or not isinstance(key, str):
                continue
            if key == "html_url" or key == "url" or (depth == 0 and (key.endswith("_url") or key in ("homepage", "blog"))):
                target = canon(_URI_TEMPLATE.sub("", value), page_url)
                if target is None:
                    continue
                links.add(target, classify_github_url(target))
                budget -= 1
        stack.extend(reversed(pending))


def _page(url: str, kind: str, title: str, text: str, fields: dict[str, Any]) -> ParsedPage:
    return ParsedPage(url=url, source=SOURCE, kind=kind, title=title, text=text, fields=fields)


def _parse_dict(url: str, d: dict[str, Any]) -> ParsedPage:
    if _is_repo(d):
        f = repo_fields(d)
        lines = [f"# {f['full_name']}"]
        if f["description"]:
            lines.append(f["description"])
        facts = [f"{f['stars']} stars", f"{f['forks']} forks"]
        if f["language"]:
            facts.append(f"language: {f['language']}")
        if f["license"]:
            facts.append(f"license: {f['license']}")
        lines.append(", ".join(facts))
        if f["topics"]:
            lines.append("Topics: " + ", ".join(f["topics"]))
        return _page(url, "api_repo", f["full_name"], "\n\n".join(lines), f)
    if _is_file(d):
        text = decode_base64_text(d["content"])
        name = _str(d.get("name")) or _str(d.get("path"))
        is_readme = name.lower().startswith("readme")
        fields = {
            "name": name,
            "path": _str(d.get("path")),
            "size": _int(d.get("size")),
            "html_url": _str(d.get("html_url")),
            "download_url": _str(d.get("download_url")),
            "readme": text,
        }
        return _page(url, "api_readme" if is_readme else "api_file", name, text, fields)
    if _is_issue(d):
        f = issue_fields(d)
        head = f"# {f['title']} (#{f['number']}, {f['state'] or 'unknown'})"
        text = head + (f"\n\n{f['body']}" if f["body"] else "")
        return _page(url, "api_issue", f["title"], text, f)
    if _is_user(d):
        f = user_fields(d)
        lines = [f"# {f['login']}" + (f" ({f['name']})" if f["name"] else "")]
        if f["bio"]:
            lines.append(f["bio"])
        facts = [f"{f['type']}", f"{f['public_repos']} public repos", f"{f['followers']} followers"]
        if f["location"]:
            facts.append(f["location"])
        lines.append(", ".join(facts))
        return _page(url, "api_user", f["login"], "\n\n".join(lines), f)
    for key in LIST_KEYS:
        items = d.get(key)
        if isinstance(items, list):
            page = _parse_list(url, items)
            if "total_count" in d:
                page.fields["total_count"] = _int(d.get("total_count"))
            page.fields["list_key"] = key
            return page
    keys = sorted(str(k) for k in d)
    title = _str(d.get("name")) or _str(d.get("title")) or _str(d.get("message"))
    return _page(url, "api_other", title, compact_json(d, MAX_TEXT), {"keys": keys})


def _parse_list(url: str, items: list[Any]) -> ParsedPage:
    summaries = [_summary(i) for i in items]
    text = "\n".join(_summary_line(s) for s in summaries)
    return _page(url, "api_list", "", text, {"items": summaries, "count": len(summaries)})


def _topic_links(url: str, data: Any, links: LinkSet) -> None:
    """``/search/topics`` items -> their ``github.com/topics/<name>`` pages (see module doc)."""
    if not url_parts(url)[1].startswith("/search/topics") or not isinstance(data, dict):
        return
    if not isinstance(data.get("items"), list):
        return
    for item in data["items"]:
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name.strip():
            links.add(canon(f"https://github.com/topics/{name.strip()}", url), LinkKind.ARTICLE, name)


def parse_github_api(url: str, status: int, text: str) -> ParsedPage:
    """Parse one api.github.com response body (already decoded)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return ParsedPage(url=url, source=SOURCE, kind="api_other", valid=False,
                          invalid_reason=PARSE_ERROR, invalid_detail=error_detail(exc))
    if isinstance(data, dict):
        page = _parse_dict(url, data)
    elif isinstance(data, list):
        page = _parse_list(url, data)
    else:
        page = _page(url, "api_other", "", compact_json(data, MAX_TEXT), {"keys": []})
    links = LinkSet()
    _collect_links(data, url, links)
    _topic_links(url, data, links)
    page.links = links.links
    if status >= 400 and isinstance(data, dict) and isinstance(data.get("message"), str):
        page.fields["message"] = collapse(data["message"])[:500]
    return finish(page, status)
