//! Helpers for the C boundary: catching panics, reading C arguments, handing out
//! C strings.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use interplug_core::__private::panic_text;

/// Runs `body` and returns its result, or `fallback` when it panics: no panic may
/// unwind into C. `what` names the entry point in the log message.
pub fn guard<T>(what: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(panic) => {
            let message = panic_text(&*panic);
            // Logging itself must not unwind either.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                log::error!(target: "interplug", "{what} panicked: {message}");
            }));
            fallback
        }
    }
}

/// The bytes `ptr[0..len]`: empty for `len == 0` (even when `ptr` is NULL), an
/// error for a NULL pointer with a length or a length no slice can have.
///
/// # Safety
/// When `ptr` is not NULL it must point to `len` readable bytes that stay valid
/// and unchanged for `'a`.
pub unsafe fn bytes<'a>(ptr: *const u8, len: u64, what: &str) -> Result<&'a [u8], String> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(format!(
            "{what} is NULL but its length is {len}: pass a valid pointer"
        ));
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| format!("{what} is too long ({len} bytes)"))?;
    // SAFETY: `ptr` is not NULL and, per the caller, valid for `len` bytes for 'a;
    // `len` fits in isize.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A NUL-terminated C string argument as UTF-8.
///
/// # Safety
/// When `ptr` is not NULL it must point to a NUL-terminated string valid for `'a`.
pub unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, String> {
    if ptr.is_null() {
        return Err(format!(
            "{what} is NULL: pass a NUL-terminated UTF-8 string"
        ));
    }
    // SAFETY: not NULL, and NUL-terminated and valid for 'a per the caller.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|e| {
        format!(
            "{what} is not valid UTF-8 ({e}): {:?}",
            text.to_string_lossy()
        )
    })
}

/// `text` as a C string; NUL bytes inside (which C cannot see) become U+FFFD.
pub fn c_string(text: &str) -> CString {
    match CString::new(text) {
        Ok(s) => s,
        Err(_) => {
            let cleaned = text.replace('\0', "\u{FFFD}");
            CString::new(cleaned).unwrap_or_default()
        }
    }
}

/// A copy of `text` in memory from `malloc`, for `char** errmsg` out-parameters:
/// the caller frees it with `extism_plugin_new_error_free` (or `free`). NULL when
/// `malloc` fails.
pub fn malloc_string(text: &str) -> *mut c_char {
    let text = c_string(text);
    let bytes = text.as_bytes_with_nul();
    // SAFETY: malloc may be called with any size; the result is checked below.
    let ptr = unsafe { libc::malloc(bytes.len()) }.cast::<u8>();
    if ptr.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `ptr` was just allocated with room for `bytes.len()` bytes and
    // cannot overlap `bytes`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
    ptr.cast()
}

/// Stores a message into a `char** errmsg` out-parameter (if it is not NULL).
///
/// # Safety
/// `errmsg` must be NULL or valid for writing one pointer.
pub unsafe fn set_errmsg(errmsg: *mut *mut c_char, text: &str) {
    if errmsg.is_null() {
        return;
    }
    let message = malloc_string(text);
    // SAFETY: not NULL and writable per the caller.
    unsafe { errmsg.write(message) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_catches_panics() {
        assert_eq!(guard("t", 1, || -> i32 { panic!("boom") }), 1);
        assert_eq!(guard("t", 1, || 2), 2);
    }

    #[test]
    fn byte_arguments() {
        // SAFETY: NULL with length 0 is never read.
        assert_eq!(unsafe { bytes(std::ptr::null(), 0, "x") }.unwrap(), b"");
        // SAFETY: NULL is refused before any read.
        assert!(unsafe { bytes(std::ptr::null(), 3, "x") }.is_err());
        let data = b"abc";
        // SAFETY: `data` is valid for 3 bytes.
        assert_eq!(unsafe { bytes(data.as_ptr(), 3, "x") }.unwrap(), b"abc");
    }

    #[test]
    fn string_arguments() {
        // SAFETY: NULL is refused before any read.
        assert!(unsafe { str_arg(std::ptr::null(), "name") }.is_err());
        let bad = b"\xff\0";
        // SAFETY: `bad` is NUL-terminated.
        let err = unsafe { str_arg(bad.as_ptr().cast(), "name") }.unwrap_err();
        assert!(err.contains("not valid UTF-8"), "{err}");
        let good = b"ok\0";
        // SAFETY: `good` is NUL-terminated.
        assert_eq!(
            unsafe { str_arg(good.as_ptr().cast(), "name") }.unwrap(),
            "ok"
        );
    }

    #[test]
    fn c_strings() {
        assert_eq!(c_string("a\0b").to_str().unwrap(), "a\u{FFFD}b");
        let p = malloc_string("hello");
        assert!(!p.is_null());
        // SAFETY: `p` is a NUL-terminated string from malloc_string.
        assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), "hello");
        // SAFETY: `p` came from malloc.
        unsafe { libc::free(p.cast()) };
    }
}
