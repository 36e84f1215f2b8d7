//! A web page on another origin calling the API through the local stack, in a real browser
//! (headless Chromium from Debian's packages, which `cargo xtask test` installs): what a team's
//! web app sees of the gateway's own errors and of the functions' answers.
//!
//! A browser hides a cross-origin answer that carries no `Access-Control-Allow-Origin` from the
//! page: `fetch` fails with a network error, whatever the status. API Gateway adds no CORS headers
//! to the errors it makes itself (the authorizer's 401, Missing Authentication Token, the WAF's
//! 403, 5xx) unless the template's gateway responses do, and it answers a preflight (`OPTIONS`)
//! on a resource without an OPTIONS method with 403. Both are in the template; this test shows
//! them working where it matters, in the browser.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e::local_stack::TestStack;
use serde_json::{Value, json};
use stack::Pattern;

e2e::all_patterns!(a_page_on_another_origin_reads_the_gateways_errors_and_the_apis_answers);

/// Where Debian's chromium package puts the browser; `CHROMIUM` may name another.
fn chromium() -> PathBuf {
    let path =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo xtask test`, which installs Debian's chromium \
         package (by hand: apt-get install chromium), or set CHROMIUM to a Chromium binary",
        path.display()
    );
    path
}

/// Serves `page` as text/html to every request on a free loopback port, on a thread of its own,
/// for as long as the test runs: the page's origin, other than the API's.
fn serve_page(page: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // The request itself does not matter; read what has arrived, then answer.
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut [0; 4096]);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    addr
}

/// A page that runs `calls` (`[name, url, fetch options]`, in order) one after another and
/// writes what each gave, `{"status", "body"}` or `{"error"}`, by name, as JSON into
/// `<pre id="result">`.
fn page(calls: &Value) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>cross-origin client</title>
<pre id="result">pending</pre>
<script>
(async () => {{
  const calls = {calls};
  const results = {{}};
  for (const [name, url, options] of calls) {{
    try {{
      const response = await fetch(url, options);
      results[name] = {{ status: response.status, body: await response.text() }};
    }} catch (error) {{
      results[name] = {{ error: String(error) }};
    }}
  }}
  document.getElementById("result").textContent = JSON.stringify(results);
}})();
</script>"#
    )
}

/// Loads `url` in headless Chromium and returns the page's DOM once its scripts are done (virtual
/// time waits for pending requests). The flags keep it off the network it may not reach.
fn dump_dom(url: &str, profile: &Path) -> String {
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The JSON the page wrote into `<pre id="result">` (text nodes escape only `&`, `<` and `>`).
fn page_results(dom: &str) -> Value {
    let text = dom
        .split_once(r#"<pre id="result">"#)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(text, _)| text)
        .unwrap_or_else(|| panic!("no result in the page: {dom}"));
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the page wrote {text:?}: {e}"))
}

async fn a_page_on_another_origin_reads_the_gateways_errors_and_the_apis_answers(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    let projects = stack.url("/dev/api/v0/projects");
    let json_post = |body: Value, token: Option<&str>| {
        let mut headers = json!({"content-type": "application/json"});
        if let Some(token) = token {
            headers["authorization"] = token.into();
        }
        json!({"method": "POST", "headers": headers, "body": body.to_string()})
    };
    let calls = json!([
        // JSON makes this a preflighted request: OPTIONS first, then the POST the authorizer
        // refuses with its 401.
        [
            "post_without_token",
            projects,
            json_post(json!({"name": "Nope"}), None)
        ],
        [
            "post_with_token",
            projects,
            json_post(json!({"name": "Atlas"}), Some(&token))
        ],
        ["list", projects, {}],
        ["unknown_stage", stack.url("/nostage/api/v0/projects"), {}],
    ]);
    let page_addr = serve_page(page(&calls));
    let profile = tempfile::tempdir().unwrap();
    let dom = tokio::task::spawn_blocking({
        let profile = profile.path().to_owned();
        move || dump_dom(&format!("http://{page_addr}/"), &profile)
    })
    .await
    .unwrap();
    let results = page_results(&dom);

    let read = |name: &str| -> (u64, Value) {
        let result = &results[name];
        assert!(
            result.get("error").is_none(),
            "{name}: the page could not read the answer (a CORS failure looks like this): {result}"
        );
        let body = result["body"].as_str().unwrap_or_default();
        (
            result["status"].as_u64().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    };
    assert_eq!(
        read("post_without_token"),
        (401, json!({"message": "Unauthorized"}))
    );
    let (status, created) = read("post_with_token");
    assert_eq!((status, &created["name"]), (201, &json!("Atlas")));
    let (status, listed) = read("list");
    assert_eq!(status, 200);
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(
        read("unknown_stage"),
        (403, json!({"message": "Missing Authentication Token"}))
    );
    // Nothing was written but the authorized create.
    assert_eq!(stack.names("projects").await, ["Atlas"]);
    stack.stop().await;
}
