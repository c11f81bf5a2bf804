//! `xtp_fail`: like xtp_pass, but one assertion fails (and one passes).
use extism_pdk::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Count {
    count: u64,
    vowels: String,
}

#[plugin_fn]
pub fn test() -> FnResult<()> {
    xtp_test::group("count_vowels", || {
        let Json(out): Json<Count> = xtp_test::call("count_vowels", "hello world")?;
        // Wrong on purpose: "hello world" has 3 vowels.
        xtp_test::assert_eq("count is 4", out.count, 4u64);
        xtp_test::assert_eq("default vowels", out.vowels.as_str(), "aeiouAEIOU");
        Ok(())
    })?;
    Ok(())
}
