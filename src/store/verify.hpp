// SPDX-License-Identifier: MIT
#pragma once

#include <cstdio>
#include <string>

namespace wspush::store {

// Checks the store at `path` without changing it: every segment, every checksum, the seqs
// running on from one segment to the next, the epoch and cursors files, and no segment set
// aside. Prints what it found to `out`; returns true when all is sound. Throws when the
// directory cannot be read.
bool verifyStore(const std::string& path, std::FILE* out);

} // namespace wspush::store
