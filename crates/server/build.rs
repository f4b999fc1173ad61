//! Embeds the player libraries (hls.js, dash.js) when the project's setup has installed them from
//! npm (`./weir.sh setup` runs `npm ci` in `web/`). A missing library is replaced by a stub that
//! sets a flag the pages check (`window.WEIR_HLSJS_MISSING`, `window.WEIR_DASHJS_MISSING`), and
//! the pages say how to add it.

use std::path::{Path, PathBuf};

/// Copies `web/node_modules/{src}` to `OUT_DIR/{name}` and sets `cfg({cfg})`, or writes `stub`.
fn embed(manifest: &Path, out: &Path, package: &str, src: &str, name: &str, cfg: &str, stub: &str) {
    let web = manifest.join("../../web/node_modules").join(package);
    let src = web.join(src);
    println!("cargo:rerun-if-changed={}", src.display());
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package.json").display()
    );
    println!("cargo::rustc-check-cfg=cfg({cfg})");
    let dst = out.join(name);
    match std::fs::read(&src) {
        Ok(js) => {
            std::fs::write(&dst, js).unwrap_or_else(|e| panic!("write OUT_DIR/{name}: {e}"));
            println!("cargo:rustc-cfg={cfg}");
        }
        Err(_) => {
            std::fs::write(&dst, stub).unwrap_or_else(|e| panic!("write OUT_DIR/{name}: {e}"));
        }
    }
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    embed(
        &manifest,
        &out,
        "hls.js",
        "dist/hls.min.js",
        "hls.min.js",
        "weir_hlsjs",
        "window.WEIR_HLSJS_MISSING = true;\n",
    );
    // dash.js 5 ships builds for current browsers (`modern`) and old ones (`legacy`); the UMD
    // bundle defines the global `dashjs`.
    embed(
        &manifest,
        &out,
        "dashjs",
        "dist/modern/umd/dash.all.min.js",
        "dash.all.min.js",
        "weir_dashjs",
        "window.WEIR_DASHJS_MISSING = true;\n",
    );
}
