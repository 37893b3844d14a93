/** The sentence the voice tests say into the fake microphone (espeak-ng speaks it). */
export const SPOKEN_SENTENCE = "I have been feeling anxious about work lately.";
