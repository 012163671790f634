//! With the `tch` feature, give the `apt-llm` binary (and this crate's tests) an rpath to
//! `$LIBTORCH/lib`, so it runs without `LD_LIBRARY_PATH`.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if let (Some(_), Ok(dir)) = (
        std::env::var_os("CARGO_FEATURE_TCH"),
        std::env::var("LIBTORCH"),
    ) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
}
