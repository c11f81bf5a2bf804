//! `xtp_pass`: an xtp-test test plug-in for `count_vowels`; every assertion passes.
use extism_pdk::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Count {
    count: u64,
    total: u64,
    vowels: String,
}

#[plugin_fn]
pub fn test() -> FnResult<()> {
    xtp_test::group("count_vowels", || {
        let Json(first): Json<Count> = xtp_test::call("count_vowels", "hello world")?;
        xtp_test::assert_eq("count is 3", first.count, 3u64);
        xtp_test::assert_eq("total starts at 3", first.total, 3u64);
        xtp_test::assert_eq("default vowels", first.vowels.as_str(), "aeiouAEIOU");

        let ns = xtp_test::time_ns("count_vowels", "hello world")?;
        xtp_test::assert_lt("timed call under 10 s", ns, 10_000_000_000u64);

        let Json(third): Json<Count> = xtp_test::call("count_vowels", "hello world")?;
        xtp_test::assert_eq("total counts the timed call", third.total, 9u64);
        Ok(())
    })?;
    Ok(())
}
