//! Links Debian's libsrt (`libsrt-openssl-dev`), with a clear message when it is missing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let found = std::process::Command::new("pkg-config")
        .args(["--exists", "srt"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        || std::path::Path::new("/usr/include/srt/srt.h").exists();
    if !found {
        println!(
            "cargo:warning=libsrt was not found: install it with `./weir.sh setup` \
             (Debian package libsrt-openssl-dev)"
        );
    }
    println!("cargo:rustc-link-lib=srt");
}
