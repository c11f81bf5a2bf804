//! `count_vowels`: the classic Extism demo plug-in, with config and a var.
use extism_pdk::*;
use serde::Serialize;

const DEFAULT_VOWELS: &str = "aeiouAEIOU";

/// Serialized with serde_json in declaration order: count, total, vowels.
#[derive(Serialize)]
struct Output {
    count: u64,
    total: u64,
    vowels: String,
}

#[plugin_fn]
pub fn count_vowels(input: String) -> FnResult<Json<Output>> {
    let vowels = config::get("vowels")?.unwrap_or_else(|| DEFAULT_VOWELS.to_string());
    let count = input.chars().filter(|c| vowels.contains(*c)).count() as u64;

    let previous: u64 = match var::get::<String>("total")? {
        Some(s) => s
            .parse()
            .map_err(|e| Error::msg(format!("var total is not a number: {e}")))?,
        None => 0,
    };
    let total = previous + count;
    var::set("total", total.to_string())?;

    Ok(Json(Output {
        count,
        total,
        vowels,
    }))
}
