//! With the `tch` feature, give this crate's tests, benches and examples an rpath to
//! `$LIBTORCH/lib`, so they find libtorch without `LD_LIBRARY_PATH`.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    match std::env::var("LIBTORCH") {
        Ok(dir) => println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib"),
        Err(_) => println!(
            "cargo:warning=the tch feature needs LIBTORCH (run scripts/setup_libtorch.py); \
             binaries will need LD_LIBRARY_PATH"
        ),
    }
}
