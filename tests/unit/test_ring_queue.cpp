// SPDX-License-Identifier: MIT
#include <memory>
#include <vector>

#include <doctest/doctest.h>

#include "system/ring_queue.hpp"

using wspush::system::RingQueue;

namespace {

std::vector<int> contents(const RingQueue<int>& queue)
{
    std::vector<int> values;
    for (std::size_t i = 0; i < queue.size(); ++i)
        values.push_back(queue[i]);
    return values;
}

} // namespace

TEST_CASE("ring queue: first in, first out, across the wrap and while it grows")
{
    RingQueue<int> queue;
    CHECK(queue.empty());
    int next = 0;
    int expected = 0;
    // Pushing 3 for every 2 popped moves the head round the array while it grows.
    for (int round = 0; round < 100; ++round) {
        for (int i = 0; i < 3; ++i)
            queue.pushBack(next++);
        for (int i = 0; i < 2; ++i) {
            REQUIRE(queue.front() == expected++);
            queue.popFront();
        }
        REQUIRE(queue.size() == static_cast<std::size_t>(next - expected));
        REQUIRE(queue.back() == next - 1);
    }
    std::vector<int> rest;
    for (int value = expected; value < next; ++value)
        rest.push_back(value);
    CHECK(contents(queue) == rest);
}

TEST_CASE("ring queue: pops from the back, and clears")
{
    RingQueue<int> queue;
    for (int i = 0; i < 20; ++i)
        queue.pushBack(i);
    queue.popFront();
    queue.popBack();
    CHECK(queue.front() == 1);
    CHECK(queue.back() == 18);
    CHECK(queue.size() == 18);
    queue.clear();
    CHECK(queue.empty());
    queue.pushBack(7);
    CHECK(contents(queue) == std::vector<int>{7});
}

TEST_CASE("ring queue: a popped slot lets go of what it held")
{
    RingQueue<std::shared_ptr<int>> queue;
    auto value = std::make_shared<int>(1);
    queue.pushBack(value);
    queue.pushBack(value);
    CHECK(value.use_count() == 3);
    queue.popFront();
    CHECK(value.use_count() == 2);
    queue.popBack();
    CHECK(value.use_count() == 1);
}

TEST_CASE("ring queue: moved, the source is empty and usable")
{
    RingQueue<int> source;
    for (int i = 0; i < 5; ++i)
        source.pushBack(i);
    RingQueue<int> target;
    target.pushBack(42);
    target = std::move(source);
    CHECK(contents(target) == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(source.empty()); // NOLINT(bugprone-use-after-move): what a move leaves is specified
    source.pushBack(9);
    CHECK(contents(source) == std::vector<int>{9});
}
