// Arena placement (greedy by size over lifetimes) and the arena pool.
#include "runtime/Arena.h"

#include <algorithm>
#include <cstdlib>
#include <new>

using namespace dlc::rt;

static uint64_t alignUp(uint64_t V) {
  return (V + ArenaAlign - 1) / ArenaAlign * ArenaAlign;
}

ArenaLayout dlc::rt::planArena(const std::vector<ArenaRequest> &Requests) {
  ArenaLayout L;
  L.Offsets.assign(Requests.size(), 0);
  std::vector<size_t> Order(Requests.size());
  for (size_t I = 0; I < Order.size(); ++I)
    Order[I] = I;
  std::stable_sort(Order.begin(), Order.end(), [&](size_t A, size_t B) {
    return Requests[A].Bytes > Requests[B].Bytes;
  });
  std::vector<size_t> Placed;
  for (size_t I : Order) {
    const ArenaRequest &R = Requests[I];
    uint64_t Bytes = alignUp(R.Bytes);
    if (Bytes == 0)
      continue;
    // Placed buffers alive at the same time, by offset.
    std::vector<std::pair<uint64_t, uint64_t>> Busy;
    for (size_t J : Placed) {
      const ArenaRequest &O = Requests[J];
      if (O.First <= R.Last && R.First <= O.Last)
        Busy.push_back({L.Offsets[J], L.Offsets[J] + alignUp(O.Bytes)});
    }
    std::sort(Busy.begin(), Busy.end());
    uint64_t Off = 0;
    for (auto [Lo, Hi] : Busy) {
      if (Off + Bytes <= Lo)
        break;
      Off = std::max(Off, Hi);
    }
    L.Offsets[I] = Off;
    L.Size = std::max(L.Size, Off + Bytes);
    Placed.push_back(I);
  }
  return L;
}

Arena::Arena(uint64_t Size) : Size(Size) {
  if (Size > UINT64_MAX - ArenaAlign)
    throw std::bad_alloc();
  if (Size)
    Data = static_cast<uint8_t *>(std::aligned_alloc(ArenaAlign, alignUp(Size)));
  if (Size && !Data)
    throw std::bad_alloc();
}

Arena::~Arena() { std::free(Data); }

std::unique_ptr<Arena> ArenaPool::acquire(uint64_t Size) {
  std::lock_guard<std::mutex> Lock(M);
  for (size_t I = 0; I < Free.size(); ++I)
    if (Free[I]->size() >= Size) {
      std::unique_ptr<Arena> A = std::move(Free[I]);
      Free.erase(Free.begin() + I);
      return A;
    }
  try {
    return std::make_unique<Arena>(Size);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}

void ArenaPool::release(std::unique_ptr<Arena> A) {
  std::lock_guard<std::mutex> Lock(M);
  Free.push_back(std::move(A));
}
