//! Embeds the hls.js player library when the project's setup has installed it from npm
//! (`./weir.sh setup` runs `npm install` in `web/`). Without it, a stub is embedded and the
//! landing page says how to add it.

use std::path::PathBuf;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let src = manifest.join("../../web/node_modules/hls.js/dist/hls.min.js");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=../../web/node_modules/hls.js/package.json");
    let dst = out.join("hls.min.js");
    match std::fs::read(&src) {
        Ok(js) => {
            std::fs::write(&dst, js).expect("write OUT_DIR/hls.min.js");
            println!("cargo:rustc-cfg=weir_hlsjs");
        }
        Err(_) => {
            std::fs::write(&dst, b"window.WEIR_HLSJS_MISSING = true;\n")
                .expect("write OUT_DIR/hls.min.js");
        }
    }
    println!("cargo::rustc-check-cfg=cfg(weir_hlsjs)");
}
