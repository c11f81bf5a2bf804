#!/usr/bin/env bash
# Installs libinterplug: the libraries, the headers and a pkg-config file.
#
#   capi/install.sh [PREFIX]          # default PREFIX: /usr/local
#
# Environment:
#   PROFILE     cargo profile to build and install (default: release)
#   SKIP_BUILD  set to 1 to install what target/<profile>/ already holds
#   FROM        install the libraries from this folder (implies SKIP_BUILD=1)
#   DESTDIR     staging root prepended to every installed path (for packaging)
#   LIBDIR      library folder (default: PREFIX/lib)
#
# Installs PREFIX/lib/libinterplug.{so,a}, PREFIX/include/{interplug,extism}.h and
# PREFIX/lib/pkgconfig/interplug.pc; then `pkg-config --cflags --libs interplug`
# gives the compiler flags. Also installs libextism.so and libextism.a links, so
# build scripts that say -lextism work unchanged.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:-/usr/local}"
profile="${PROFILE:-release}"
libdir="${LIBDIR:-$prefix/lib}"
includedir="$prefix/include"
destdir="${DESTDIR:-}"

if [[ -n "${FROM:-}" ]]; then
    target_dir="$FROM"
else
    if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
        cargo build -p interplug-capi --profile "$profile" --manifest-path "$root/Cargo.toml"
    fi
    # cargo calls the `dev` profile's folder `debug`.
    target_dir="$root/target/$([[ "$profile" == dev ]] && echo debug || echo "$profile")"
fi
for file in libinterplug.so libinterplug.a; do
    if [[ ! -f "$target_dir/$file" ]]; then
        echo "install: $target_dir/$file is missing: build with cargo build -p interplug-capi --profile $profile" >&2
        exit 1
    fi
done

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"

install -d "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 755 "$target_dir/libinterplug.so" "$destdir$libdir/libinterplug.so"
install -m 644 "$target_dir/libinterplug.a" "$destdir$libdir/libinterplug.a"
ln -sf libinterplug.so "$destdir$libdir/libextism.so"
ln -sf libinterplug.a "$destdir$libdir/libextism.a"
install -m 644 "$root/include/interplug.h" "$root/include/extism.h" "$destdir$includedir/"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir|g" \
    -e "s|@INCLUDEDIR@|$includedir|g" -e "s|@VERSION@|$version|g" \
    "$root/capi/interplug.pc.in" > "$destdir$libdir/pkgconfig/interplug.pc"
chmod 644 "$destdir$libdir/pkgconfig/interplug.pc"

echo "installed libinterplug $version into $destdir$prefix"
if [[ -n "$destdir" ]]; then
    exit 0
fi
case ":${PKG_CONFIG_PATH:-}:" in
    *":$libdir/pkgconfig:"*) ;;
    *) echo "pkg-config: export PKG_CONFIG_PATH=$libdir/pkgconfig:\$PKG_CONFIG_PATH (if not a default path)" ;;
esac
