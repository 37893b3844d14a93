import { useSyncExternalStore } from "react";

const subscribe = () => () => {};

/** True once the component renders in the browser; false during the static render. */
export function useMounted(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
}
