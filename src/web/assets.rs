//! The pages and scripts the web listener serves, embedded in the binary
//! (`include_bytes!` of `src/web/static/`): nothing is fetched from
//! anywhere else, and there is no build step.

/// One embedded file.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// The path it is served at.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every embedded file.
pub static ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: HTML,
        body: include_bytes!("static/index.html"),
    },
    Asset {
        path: "/admin",
        content_type: HTML,
        body: include_bytes!("static/admin.html"),
    },
    Asset {
        path: "/static/stx.js",
        content_type: JS,
        body: include_bytes!("static/stx.js"),
    },
    Asset {
        path: "/static/chat.js",
        content_type: JS,
        body: include_bytes!("static/chat.js"),
    },
    Asset {
        path: "/static/admin.js",
        content_type: JS,
        body: include_bytes!("static/admin.js"),
    },
    Asset {
        path: "/static/style.css",
        content_type: CSS,
        body: include_bytes!("static/style.css"),
    },
    Asset {
        path: "/favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("static/favicon.svg"),
    },
];

/// The file served at `path` (`/index.html` is `/`, `/admin/` is `/admin`).
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = match path {
        "/index.html" => "/",
        "/admin/" => "/admin",
        p => p,
    };
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_reference_only_embedded_files() {
        for page in ["/", "/admin"] {
            let html = std::str::from_utf8(find(page).unwrap().body).unwrap();
            for attr in ["src=\"", "href=\""] {
                for piece in html.split(attr).skip(1) {
                    let url = piece.split('"').next().unwrap();
                    assert!(
                        url.starts_with('#') || find(url).is_some(),
                        "{page} refers to {url}, which is not embedded"
                    );
                }
            }
            assert!(!html.contains("//cdn") && !html.contains("https://"));
        }
    }
}
