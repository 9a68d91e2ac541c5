// SPDX-License-Identifier: MIT
#pragma once

#include <cassert>
#include <cstddef>
#include <memory>
#include <utility>

namespace wspush::system {

// A queue in one array that wraps around, with random access. std::deque allocates a
// 512-byte block each time the queue moves through one and frees it behind; this allocates
// only while it grows past the most it ever held, so a queue that every message passes
// through costs no allocation per message. An array grown past keptSlots goes once the
// queue is empty again: one deep backlog does not keep its memory. T must be default
// constructible; a popped slot is reset to T{}, so what it held is let go at once.
template <typename T>
class RingQueue
{
public:
    static constexpr std::size_t keptSlots = std::size_t{1} << 16;

    RingQueue() = default;
    RingQueue(RingQueue&& other) noexcept
        : slots_(std::move(other.slots_)), capacity_(std::exchange(other.capacity_, 0)),
          head_(std::exchange(other.head_, 0)), size_(std::exchange(other.size_, 0))
    {
    }
    RingQueue& operator=(RingQueue&& other) noexcept
    {
        slots_ = std::move(other.slots_);
        capacity_ = std::exchange(other.capacity_, 0);
        head_ = std::exchange(other.head_, 0);
        size_ = std::exchange(other.size_, 0);
        return *this;
    }
    RingQueue(const RingQueue&) = delete;
    RingQueue& operator=(const RingQueue&) = delete;
    ~RingQueue() = default;

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    // The i-th from the front.
    T& operator[](std::size_t i) noexcept
    {
        assert(i < size_);
        return slots_[(head_ + i) & (capacity_ - 1)];
    }
    const T& operator[](std::size_t i) const noexcept
    {
        assert(i < size_);
        return slots_[(head_ + i) & (capacity_ - 1)];
    }
    T& front() noexcept { return (*this)[0]; }
    const T& front() const noexcept { return (*this)[0]; }
    T& back() noexcept { return (*this)[size_ - 1]; }
    const T& back() const noexcept { return (*this)[size_ - 1]; }

    // Throws std::bad_alloc when the array must grow and cannot; the queue is unchanged then.
    void pushBack(T value)
    {
        if (size_ == capacity_)
            grow();
        slots_[(head_ + size_) & (capacity_ - 1)] = std::move(value);
        ++size_;
    }

    void popFront() noexcept
    {
        assert(size_ != 0);
        slots_[head_] = T{};
        head_ = (head_ + 1) & (capacity_ - 1);
        if (--size_ == 0)
            emptied();
    }

    void popBack() noexcept
    {
        assert(size_ != 0);
        back() = T{};
        if (--size_ == 0)
            emptied();
    }

    void clear() noexcept
    {
        while (size_ != 0)
            popBack();
    }

private:
    void grow()
    {
        const std::size_t capacity = capacity_ == 0 ? 16 : capacity_ * 2;
        auto slots = std::make_unique<T[]>(capacity);
        for (std::size_t i = 0; i < size_; ++i)
            slots[i] = std::move((*this)[i]);
        slots_ = std::move(slots);
        capacity_ = capacity;
        head_ = 0;
    }

    void emptied() noexcept
    {
        head_ = 0;
        if (capacity_ > keptSlots) {
            slots_.reset();
            capacity_ = 0;
        }
    }

    std::unique_ptr<T[]> slots_;
    std::size_t capacity_ = 0; // a power of two, or 0
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

} // namespace wspush::system
