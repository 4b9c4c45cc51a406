//! A bigger main stack for WebAssembly builds.
//!
//! The core producer keeps its indexes inline (no allocator), so opening a
//! journal moves values of a few hundred kilobytes on the stack. Native
//! targets open it on a helper thread with a large stack; WASI has no
//! threads, so it runs on the main stack, which wasm-ld makes 1 MiB by
//! default: too small. (The stack is linear memory reserved up front.)

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "wasm")) {
        println!("cargo:rustc-link-arg-bins=-zstack-size={}", 8 << 20);
    }
}
