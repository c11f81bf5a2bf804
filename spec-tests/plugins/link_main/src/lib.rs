//! `link_main`: a PDK plug-in whose arithmetic comes from the module `math` (link_math).
use extism_pdk::*;

#[link(wasm_import_module = "math")]
extern "C" {
    #[link_name = "add"]
    fn math_add(a: i32, b: i32) -> i32;
    #[link_name = "mul"]
    fn math_mul(a: i32, b: i32) -> i32;
}

fn parse(s: &str) -> Result<i32, Error> {
    s.trim()
        .parse()
        .map_err(|e| Error::msg(format!("invalid number {s:?}: {e}")))
}

#[plugin_fn]
pub fn compute(input: String) -> FnResult<String> {
    let (a, b) = input
        .split_once(',')
        .ok_or_else(|| Error::msg("compute expects a,b"))?;
    let (a, b) = (parse(a)?, parse(b)?);
    let (sum, product) = unsafe { (math_add(a, b), math_mul(a, b)) };
    Ok(format!("sum={sum} product={product}"))
}
