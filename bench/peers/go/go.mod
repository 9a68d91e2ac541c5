// SPDX-License-Identifier: MIT
module wspush-peer-go

go 1.19

require github.com/gorilla/websocket v1.5.0

// Debian's golang-github-gorilla-websocket-dev: bench/run builds the peer offline.
replace github.com/gorilla/websocket => /usr/share/gocode/src/github.com/gorilla/websocket
