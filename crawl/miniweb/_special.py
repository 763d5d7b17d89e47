"""Pages a crawler must recognise as unusable: a bot challenge, a rate limit, a redirect.

Written for the mini-web; they imitate the shape of what such responses look like in
the wild (a CDN block page with a "Ray ID", a 429 with ``Retry-After``, a bare 301).
"""

from __future__ import annotations

from html import escape


def challenge_page(host: str, ray_id: str, client_ip: str = "198.51.100.23") -> str:
    """A CDN "you have been blocked" page (served with status 403)."""
    return f"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>Attention Required! | Cloudflare</title>
<!-- seekforge mini-web: fictional page written for offline tests; see crawl/miniweb/README.md -->
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta http-equiv="X-UA-Compatible" content="IE=Edge" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />
</head>
<body>
<div id="cf-wrapper">
<div class="cf-alert cf-alert-error cf-cookie-error" id="cookie-alert" data-translate="enable_cookies">Please enable cookies.</div>
<div id="cf-error-details" class="cf-error-details-wrapper">
<div class="cf-wrapper cf-header cf-error-overview">
<h1 data-translate="block_headline">Sorry, you have been blocked</h1>
<h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to access</span> {escape(host)}</h2>
</div>
<div class="cf-section cf-highlight">
<div class="cf-wrapper"><div class="cf-screenshot-container cf-screenshot-full"><span class="cf-no-screenshot error"></span></div></div>
</div>
<div class="cf-section cf-wrapper">
<div class="cf-columns two">
<div class="cf-column">
<h2 data-translate="blocked_why_headline">Why have I been blocked?</h2>
<p data-translate="blocked_why_detail">The site you asked for sits behind an automated protection layer, and something about your request (its rate, its headers or its content) matched one of that layer's blocking rules. Automated clients are the usual cause.</p>
</div>
<div class="cf-column">
<h2 data-translate="blocked_resolve_headline">What can I do to resolve this?</h2>
<p data-translate="blocked_resolve_detail">Write to the operators of the site, say what you were doing when this page appeared, and give them the Ray ID printed below so that they can find the event.</p>
</div>
</div>
</div>
<div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center sm:text-left border-solid border-0 border-t border-gray-300">
<p class="text-13">
<span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">{escape(ray_id)}</strong></span>
<span class="cf-footer-separator sm:hidden">&bull;</span>
<span id="cf-footer-item-ip" class="cf-footer-item hidden sm:block sm:mb-1">Your IP: <span class="hidden" id="cf-footer-ip">{escape(client_ip)}</span></span>
<span class="cf-footer-separator sm:hidden">&bull;</span>
<span class="cf-footer-item sm:block sm:mb-1"><span>Performance &amp; security by</span> <a rel="noopener noreferrer" href="https://www.cloudflare.com/5xx-error-landing" id="brand_link" target="_blank">Cloudflare</a></span>
</p>
</div>
</div>
</div>
</body>
</html>
"""


def rate_limited_page() -> str:
    """github.com's answer when a client asks too fast (served with status 429)."""
    return """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Too Many Requests &middot; GitHub</title>
<!-- seekforge mini-web: fictional page written for offline tests; see crawl/miniweb/README.md -->
<style type="text/css" media="screen">
body { background-color: #f6f8fa; color: rgba(0, 0, 0, 0.5); font-family: -apple-system, sans-serif; font-size: 14px; }
.c { margin: 50px auto; max-width: 600px; text-align: center; padding: 0 24px; }
</style>
</head>
<body>
<div class="c">
<h1>Too many requests</h1>
<p>You have sent more requests than we allow in a short period. Slow down and try again in a few minutes.</p>
<p>If you reach this page while browsing normally, contact us and quote the request ID below.</p>
<p class="request-id">Request ID: <code>C2F1:3A77:8D0C41:91E2B6:6724A1F0</code></p>
<div id="s"><a href="https://support.github.com">Contact Support</a> &mdash; <a href="https://www.githubstatus.com">GitHub Status</a> &mdash; <a href="https://twitter.com/githubstatus">@githubstatus</a></div>
</div>
</body>
</html>
"""


def redirect_page(location: str) -> str:
    loc = escape(location)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>301 Moved Permanently</title></head>\n"
        f"<body><h1>Moved Permanently</h1><p>The document has moved <a href=\"{loc}\">here</a>.</p></body></html>\n"
    )
