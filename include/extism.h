/*
 * extism.h: compatibility header for code written against libextism.
 * The API is declared in interplug.h; link with -linterplug.
 */
#ifndef EXTISM_H
#define EXTISM_H

#include "interplug.h"

#endif /* EXTISM_H */
