"use client";

import { useInfiniteQuery, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useCallback, useMemo } from "react";

import { useUser } from "@/hooks/use-user";
import {
  ApiError,
  forgetAllMemory,
  forgetMemoryItem,
  getMemory,
  setMemoryChoices,
  type MemoryChoices,
  type MemoryItem,
  type MemoryPage,
} from "@/lib/api";

export const MEMORY_KEY = ["memory"] as const;
/** Items asked for at a time; "Show more" asks for the next ones. */
export const MEMORY_PAGE_SIZE = 20;

type Pages = InfiniteData<MemoryPage, number>;

/**
 * What Solace remembers of the signed-in person (guest or account), newest first, a
 * page at a time, and the actions on it. Each action updates the cached pages from the
 * server's answer rather than fetching them all again.
 */
export function useMemory() {
  const queryClient = useQueryClient();
  const { status } = useUser();
  const query = useInfiniteQuery({
    queryKey: MEMORY_KEY,
    queryFn: ({ pageParam }) => getMemory({ limit: MEMORY_PAGE_SIZE, offset: pageParam }),
    initialPageParam: 0,
    // The next page starts after what is loaded; an item forgotten here lowers both the
    // loaded count and the total, so the offset stays right.
    getNextPageParam: (last, pages) => {
      const loaded = pages.reduce((count, page) => count + page.items.length, 0);
      return last.items.length > 0 && loaded < last.total ? loaded : undefined;
    },
    enabled: status === "signed-in",
  });

  const pages = query.data?.pages;
  const items = useMemo(() => {
    // Turns remembered while paging move the rest along: show each item once.
    const seen = new Set<string>();
    return (pages ?? [])
      .flatMap((page) => page.items)
      .filter((item) => {
        if (seen.has(item.id)) return false;
        seen.add(item.id);
        return true;
      });
  }, [pages]);

  const update = useCallback(
    (change: (page: MemoryPage) => MemoryPage) =>
      queryClient.setQueryData<Pages>(MEMORY_KEY, (old) =>
        old ? { ...old, pages: old.pages.map(change) } : old,
      ),
    [queryClient],
  );

  /** Forgets one item; one that is already gone (another tab) counts as forgotten. */
  const forget = useCallback(
    async (item: MemoryItem) => {
      try {
        await forgetMemoryItem(item.id);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
      update((page) => ({
        ...page,
        items: page.items.filter((kept) => kept.id !== item.id),
        total: Math.max(0, page.total - 1),
      }));
    },
    [update],
  );

  const forgetAll = useCallback(async () => {
    await forgetAllMemory();
    queryClient.setQueryData<Pages>(MEMORY_KEY, (old) => {
      const first = old?.pages[0];
      return first ? { pages: [{ ...first, items: [], total: 0 }], pageParams: [0] } : old;
    });
  }, [queryClient]);

  /** Shows the new choices at once and stores them; puts the old ones back if it fails. */
  const choose = useCallback(
    async (choices: MemoryChoices) => {
      const before = queryClient.getQueryData<Pages>(MEMORY_KEY)?.pages[0]?.choices;
      update((page) => ({ ...page, choices }));
      try {
        const saved = await setMemoryChoices(choices);
        update((page) => ({ ...page, choices: saved }));
      } catch (error) {
        if (before) update((page) => ({ ...page, choices: before }));
        throw error;
      }
    },
    [queryClient, update],
  );

  const last = pages?.at(-1);
  return {
    query,
    /** Whether memory runs on this server (and why not). */
    status: pages?.[0]?.status,
    choices: pages?.[0]?.choices,
    items,
    /** How many items there are in all, loaded or not. */
    total: last?.total ?? 0,
    forget,
    forgetAll,
    choose,
  };
}
