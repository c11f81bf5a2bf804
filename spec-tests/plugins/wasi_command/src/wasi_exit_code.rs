//! `wasi_exit_code`: a WASI command whose `_start` ends with `proc_exit(7)`.
fn main() {
    std::process::exit(7);
}
