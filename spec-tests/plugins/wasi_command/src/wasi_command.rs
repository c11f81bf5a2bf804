//! `wasi_command`: a WASI command; `_start` prints one line and returns (exit code 0).
fn main() {
    println!("hello from _start");
}
