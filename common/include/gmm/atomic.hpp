// Atomic access to plain integer fields in the pool (layout types stay
// trivially copyable). The memory order is part of each helper's name.
#pragma once

#include <atomic>
#include <cstdint>

namespace gmm {

template <class T>
T load_acquire(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_acquire);
}
template <class T>
T load_relaxed(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}
template <class T>
void store_release(T& field, T value) {
  std::atomic_ref<T>(field).store(value, std::memory_order_release);
}
template <class T>
void store_relaxed(T& field, T value) {
  std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}
template <class T>
bool cas_acq_rel(T& field, T& expected, T desired) {
  return std::atomic_ref<T>(field).compare_exchange_strong(expected, desired, std::memory_order_acq_rel,
                                                           std::memory_order_acquire);
}
template <class T>
T fetch_add_acq_rel(T& field, T delta) {
  return std::atomic_ref<T>(field).fetch_add(delta, std::memory_order_acq_rel);
}

template <class T>
T fetch_or_acq_rel(T& field, T bits) {
  return std::atomic_ref<T>(field).fetch_or(bits, std::memory_order_acq_rel);
}

// A copy of `live` with only the named fields filled, each read with
// load_acquire: a snapshot of a record its owner updates field by field.
template <class T, class... Field>
T load_fields(const T& live, Field T::*... fields) {
  T copy{};
  ((copy.*fields = load_acquire(live.*fields)), ...);
  return copy;
}

// Enum-typed state fields are stored as uint32_t.
template <class E>
E load_state(const std::uint32_t& field) {
  return static_cast<E>(load_acquire(field));
}
template <class E>
void publish_state(std::uint32_t& field, E value) {
  store_release(field, static_cast<std::uint32_t>(value));
}

}  // namespace gmm
